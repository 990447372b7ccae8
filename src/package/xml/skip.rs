//! Skipping an element's content by scanning bytes instead of tokenizing them: most of a real
//! `customizations.xml` (forms, views, ribbons, site maps) is subtrees no policy reads. The
//! scanner jumps between markup with `memchr`, follows just enough of XML to find where each
//! tag, comment, CDATA section, processing instruction and reference ends, and keeps every
//! guard of the tokenizer: the names of nested start and end tags must match, the nesting
//! depth and the size of one token stay bounded, a DOCTYPE is refused, and an element cut off
//! by the end of the file is an error. It stops at the `<` of the skipped element's own end
//! tag, which the tokenizer then reads (and checks against the start tag it read). Every byte
//! passed is checked to be UTF-8 and, as the tokenizer checks each token when it ends, a token
//! holding bad bytes is refused where it ends, in the tokenizer's words: the place then does
//! not depend on where a buffer began. Lines stay right because the line tracker counts
//! newlines in whatever bytes go by.

use std::io::{self, Read};

use super::LineTracker;
use utf8::Utf8Check;

mod utf8;

/// Why a skip stopped early.
pub(super) enum SkipFailure {
    /// Reading the bytes failed (including a token that outgrew its bound across buffers).
    Io(io::Error),
    /// The file ended inside the element.
    Eof,
    TooDeep,
    Doctype,
    TokenTooLarge,
    Malformed(String),
    /// The tokenizer's own verdict on a token handed to it (a DOCTYPE).
    Tokenizer(quick_xml::Error),
    /// A token holds bytes that are not UTF-8; refused at `at` in the buffer, where the token
    /// ends, worded as the tokenizer words it.
    Encoding {
        message: String,
        at: usize,
    },
}

impl From<io::Error> for SkipFailure {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Where the scanner is between two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// After `&`, up to `;`.
    Reference,
    /// After `<`, reading the tag name: up to the first XML whitespace, as the tokenizer takes
    /// it (quotes included; `quote` is one open in it).
    StartName {
        quote: u8,
    },
    /// After the name, up to `>` (`quote` is the open quote of an attribute value, if any;
    /// `slash` that the last byte outside quotes was `/`).
    StartRest {
        quote: u8,
        slash: bool,
    },
    /// After `</`, up to the first `>` outside quotes (as the tokenizer reads end tags).
    EndTag {
        quote: u8,
    },
    /// After `<!`: which markup it is is not known yet.
    Bang,
    /// Inside `<!-- ... -->`; trailing `-` seen.
    Comment(u8),
    /// Inside `<![CDATA[ ... ]]>`; trailing `]` seen.
    CData(u8),
    /// Inside `<? ... ?>`; whether the last byte was `?` (the one of `<?` too).
    Instruction(bool),
}

const COMMENT_OPEN: &[u8] = b"--";
const CDATA_OPEN: &[u8] = b"[CDATA[";

/// The scan of one skipped element: its open descendants' names and the name being read.
struct Scan {
    state: State,
    /// Names of the open descendants, end to end; `ends[i]` is where name `i` ends.
    names: Vec<u8>,
    ends: Vec<usize>,
    /// The tag name (or `<!` prefix) being read.
    name: Vec<u8>,
    depth: usize,
    max_depth: usize,
    utf8: Utf8Check,
}

impl Scan {
    /// Opens a descendant: the depth bound holds.
    fn open(&mut self) -> Result<(), SkipFailure> {
        if self.depth + self.ends.len() + 1 > self.max_depth {
            return Err(SkipFailure::TooDeep);
        }
        self.names.extend_from_slice(&self.name);
        self.ends.push(self.names.len());
        Ok(())
    }

    /// Closes the innermost descendant with the end tag just read; its name must match.
    /// Trailing whitespace is trimmed off the name, as the tokenizer trims it: unless the name
    /// is nothing but whitespace, which it keeps whole.
    fn close(&mut self) -> Result<(), SkipFailure> {
        let end = self
            .name
            .iter()
            .rposition(|b| !is_xml_whitespace(*b))
            .map_or(self.name.len(), |i| i + 1);
        let found = &self.name[..end];
        let start = self.ends.len().checked_sub(2).map_or(0, |i| self.ends[i]);
        let expected = &self.names[start..];
        if expected != found {
            let error = quick_xml::errors::IllFormedError::MismatchedEndTag {
                expected: String::from_utf8_lossy(expected).into_owned(),
                found: String::from_utf8_lossy(found).into_owned(),
            };
            // Worded as the tokenizer words it.
            let error = quick_xml::Error::IllFormed(error);
            return Err(SkipFailure::Malformed(error.to_string()));
        }
        self.names.truncate(start);
        self.ends.pop();
        Ok(())
    }
}

impl<R: Read> LineTracker<R> {
    /// Makes at least `n` bytes available from `pos` (fewer only at the end of the input),
    /// moving the unread bytes to the front of the buffer when needed.
    fn fill_at_least(&mut self, n: usize) -> io::Result<()> {
        while self.filled - self.pos < n {
            if self.pos > 0 {
                self.count_to(self.pos);
                self.buf.copy_within(self.pos..self.filled, 0);
                self.base += self.pos as u64;
                self.filled -= self.pos;
                self.pos = 0;
                self.counted.set(0);
            }
            let read = loop {
                match self.inner.read(&mut self.buf[self.filled..]) {
                    Ok(read) => break read,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if read == 0 {
                break;
            }
            self.filled += read;
        }
        Ok(())
    }

    /// Starts a token at `at` in the buffer, after checking the one that ends there: its
    /// bytes are UTF-8 (the tokenizer checks each token when it ends) and its size is bounded.
    fn token_at(&mut self, at: usize, utf8: &mut Utf8Check) -> Result<(), SkipFailure> {
        let offset = self.base + at as u64;
        utf8.cover(&self.buf[..self.filled], self.base, at);
        if let Some(refusal) = utf8.refusal(self.mark_offset, offset, at) {
            return Err(refusal);
        }
        if offset - self.mark_offset > self.max_token_bytes as u64 {
            return Err(SkipFailure::TokenTooLarge);
        }
        self.mark_offset = offset;
        Ok(())
    }

    /// Consumes the content of an element whose start tag was just read (at nesting `depth`),
    /// up to the `<` of its end tag.
    pub(super) fn skip_content(
        &mut self,
        depth: usize,
        max_depth: usize,
    ) -> Result<(), SkipFailure> {
        self.mark_offset = self.base + self.pos as u64;
        if self.skip_text_only() {
            return Ok(());
        }
        let mut scan = Scan {
            state: State::Text,
            names: Vec::new(),
            ends: Vec::new(),
            name: Vec::new(),
            depth,
            max_depth,
            utf8: Utf8Check::new(self.mark_offset),
        };
        loop {
            if self.pos >= self.filled {
                // The buffer is about to be replaced: its bytes are checked first.
                scan.utf8
                    .cover(&self.buf[..self.filled], self.base, self.filled);
                self.refill()?;
                if self.filled == 0 {
                    return Err(self.end_of_input(&mut scan));
                }
            }
            if self.scan_chunk(&mut scan)? {
                return Ok(());
            }
        }
    }

    /// Passes the content of a small text-only element (`<IsAuditEnabled>1</IsAuditEnabled>`,
    /// most of what an attribute-dense file skips) when it is all in the buffer, UTF-8, within
    /// the token bound and free of references, without setting up a scan; `false` leaves
    /// everything else (including every refusal) to the scan, which finds the same end.
    fn skip_text_only(&mut self) -> bool {
        let rest = &self.buf[self.pos..self.filled];
        let Some(k) = memchr::memchr2(b'<', b'&', rest) else {
            return false;
        };
        let end_tag_next = rest[k] == b'<' && rest.get(k + 1) == Some(&b'/');
        if !end_tag_next || k > self.max_token_bytes || std::str::from_utf8(&rest[..k]).is_err() {
            return false;
        }
        self.pos += k;
        self.mark_offset = self.base + self.pos as u64;
        true
    }

    /// A DOCTYPE inside a skipped element is refused, as the tokenizer refuses it: but the
    /// tokenizer first reads the whole declaration, internal subset and all, so bytes in it that
    /// are not UTF-8, a declaration never closed or one not named `DOCTYPE` are refused as
    /// such. The declaration is handed to the tokenizer itself (its `<!D`, already read here,
    /// replayed) for that verdict, which no scanner of its grammar could match as surely.
    fn doctype_verdict(&mut self, opening: Vec<u8>) -> SkipFailure {
        let source = io::Cursor::new(opening).chain(&mut *self);
        let mut reader = quick_xml::Reader::from_reader(source);
        let mut buf = Vec::new();
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::DocType(_)) => SkipFailure::Doctype,
            Ok(_) => SkipFailure::Malformed("unknown markup `<!` inside an element".to_owned()),
            Err(error) => SkipFailure::Tokenizer(error),
        }
    }

    /// The input ended inside the skipped element. In text or a reference the tokenizer
    /// checks the token that the end cut short, elsewhere it stops at the end.
    fn end_of_input(&mut self, scan: &mut Scan) -> SkipFailure {
        match scan.state {
            State::Reference => self.unclosed_reference(0, &mut scan.utf8),
            State::Text => {
                scan.utf8.finish(self.base);
                let refusal = scan.utf8.refusal(self.mark_offset, self.base, 0);
                refusal.unwrap_or(SkipFailure::Eof)
            }
            _ => SkipFailure::Eof,
        }
    }

    /// A reference cut off at `at` (by `&`, `<` or the end of the input) before its `;`.
    fn unclosed_reference(&mut self, at: usize, utf8: &mut Utf8Check) -> SkipFailure {
        let end = self.base + at as u64;
        if at == self.filled {
            utf8.cover(&self.buf[..self.filled], self.base, at);
            utf8.finish(end);
        }
        if let Some(refusal) = self.token_at(at, utf8).err() {
            return refusal;
        }
        let error = quick_xml::errors::IllFormedError::UnclosedReference;
        SkipFailure::Malformed(quick_xml::Error::IllFormed(error).to_string())
    }

    /// Scans the buffered bytes; `true` once the skipped element's end tag is next. A failure
    /// is reported where the scan stands (not where the buffer began), as the tokenizer would.
    fn scan_chunk(&mut self, scan: &mut Scan) -> Result<bool, SkipFailure> {
        let start = self.pos;
        let mut cursor = self.pos;
        match self.scan_bytes(scan, &mut cursor) {
            Ok(done) => Ok(done),
            // The scan had moved on (a refill): the place is already where it stopped.
            Err(failure) if self.pos != start => Err(failure),
            Err(failure) => {
                self.pos = match &failure {
                    SkipFailure::Encoding { at, .. } => *at,
                    _ => cursor,
                }
                .min(self.filled);
                Err(failure)
            }
        }
    }

    fn scan_bytes(&mut self, scan: &mut Scan, i: &mut usize) -> Result<bool, SkipFailure> {
        while *i < self.filled {
            match scan.state {
                State::Text => {
                    let Some(k) = memchr::memchr2(b'<', b'&', &self.buf[*i..self.filled]) else {
                        *i = self.filled;
                        continue;
                    };
                    let at = *i + k;
                    self.token_at(at, &mut scan.utf8)?;
                    if self.buf[at] == b'&' {
                        scan.state = State::Reference;
                        *i = at + 1;
                        continue;
                    }
                    if at + 1 >= self.filled {
                        // What follows `<` decides; fetch it and look again from `<`.
                        self.pos = at;
                        self.fill_at_least(2)?;
                        if self.filled - self.pos < 2 {
                            return Err(SkipFailure::Eof);
                        }
                        return Ok(false);
                    }
                    scan.name.clear();
                    match self.buf[at + 1] {
                        b'/' if scan.ends.is_empty() => {
                            self.pos = at;
                            return Ok(true);
                        }
                        b'/' => {
                            scan.state = State::EndTag { quote: 0 };
                            *i = at + 2;
                        }
                        b'!' => {
                            scan.state = State::Bang;
                            *i = at + 2;
                        }
                        // The `?` of `<?` counts towards its closing `?>`, as the tokenizer reads it.
                        b'?' => {
                            scan.state = State::Instruction(true);
                            *i = at + 2;
                        }
                        _ => {
                            scan.state = State::StartName { quote: 0 };
                            *i = at + 1;
                        }
                    }
                }
                // A reference ends at `;`; a `&` or `<` before it leaves it unclosed, which
                // the tokenizer refuses (once its bytes are found UTF-8).
                State::Reference => {
                    match memchr::memchr3(b';', b'&', b'<', &self.buf[*i..self.filled]) {
                        Some(k) if self.buf[*i + k] == b';' => {
                            *i += k + 1;
                            self.token_at(*i, &mut scan.utf8)?;
                            scan.state = State::Text;
                        }
                        Some(k) => {
                            *i += k;
                            return Err(self.unclosed_reference(*i, &mut scan.utf8));
                        }
                        None => *i = self.filled,
                    }
                }
                State::StartName { mut quote } => {
                    // The tag ends at the first `>` outside quotes; its name at the first
                    // whitespace, inside quotes or not.
                    scan.state = State::StartName { quote };
                    while *i < self.filled {
                        let byte = self.buf[*i];
                        *i += 1;
                        if is_xml_whitespace(byte) {
                            scan.state = State::StartRest {
                                quote,
                                slash: false,
                            };
                            break;
                        }
                        if quote == 0 && byte == b'>' {
                            let empty = scan.name.last() == Some(&b'/');
                            self.token_at(*i, &mut scan.utf8)?;
                            if empty {
                                scan.name.pop();
                            } else {
                                scan.open()?;
                            }
                            scan.state = State::Text;
                            break;
                        }
                        scan.name.push(byte);
                        quote = quote_after(quote, byte);
                        scan.state = State::StartName { quote };
                    }
                }
                State::StartRest { quote, slash } => {
                    let rest = &self.buf[*i..self.filled];
                    if quote != 0 {
                        match memchr::memchr(quote, rest) {
                            Some(k) => {
                                *i += k + 1;
                                scan.state = State::StartRest {
                                    quote: 0,
                                    slash: false,
                                };
                            }
                            None => *i = self.filled,
                        }
                        continue;
                    }
                    match memchr::memchr3(b'>', b'"', b'\'', rest) {
                        Some(k) if rest[k] == b'>' => {
                            let empty = if k > 0 { rest[k - 1] == b'/' } else { slash };
                            *i += k + 1;
                            self.token_at(*i, &mut scan.utf8)?;
                            if !empty {
                                scan.open()?;
                            }
                            scan.state = State::Text;
                        }
                        Some(k) => {
                            scan.state = State::StartRest {
                                quote: rest[k],
                                slash: false,
                            };
                            *i += k + 1;
                        }
                        None => {
                            scan.state = State::StartRest {
                                quote: 0,
                                slash: rest.last() == Some(&b'/'),
                            };
                            *i = self.filled;
                        }
                    }
                }
                State::EndTag { mut quote } => {
                    scan.state = State::EndTag { quote };
                    while *i < self.filled {
                        let byte = self.buf[*i];
                        *i += 1;
                        if quote == 0 && byte == b'>' {
                            self.token_at(*i, &mut scan.utf8)?;
                            scan.close()?;
                            scan.state = State::Text;
                            break;
                        }
                        scan.name.push(byte);
                        quote = quote_after(quote, byte);
                        scan.state = State::EndTag { quote };
                    }
                }
                State::Bang => {
                    scan.name.push(self.buf[*i]);
                    *i += 1;
                    let read = scan.name.as_slice();
                    if read == COMMENT_OPEN {
                        scan.state = State::Comment(0);
                    } else if read == CDATA_OPEN {
                        scan.state = State::CData(0);
                    } else if !COMMENT_OPEN.starts_with(read) && !CDATA_OPEN.starts_with(read) {
                        if read.eq_ignore_ascii_case(&b"D"[..]) {
                            let opening = [&b"<!"[..], read].concat();
                            self.pos = *i;
                            return Err(self.doctype_verdict(opening));
                        }
                        return Err(SkipFailure::Malformed(
                            "unknown markup `<!` inside an element".to_owned(),
                        ));
                    }
                }
                State::Comment(seen) | State::CData(seen) => {
                    let mark = if matches!(scan.state, State::Comment(_)) {
                        b'-'
                    } else {
                        b']'
                    };
                    let rest = &self.buf[*i..self.filled];
                    let (ended, seen, used) = closing(rest, mark, seen);
                    *i += used;
                    if ended {
                        self.token_at(*i, &mut scan.utf8)?;
                        scan.state = State::Text;
                    } else {
                        scan.state = if mark == b'-' {
                            State::Comment(seen)
                        } else {
                            State::CData(seen)
                        };
                    }
                }
                State::Instruction(question) => {
                    let rest = &self.buf[*i..self.filled];
                    match memchr::memchr(b'>', rest) {
                        Some(k) if (k == 0 && question) || (k > 0 && rest[k - 1] == b'?') => {
                            *i += k + 1;
                            let length = self.base + *i as u64 - self.mark_offset;
                            self.token_at(*i, &mut scan.utf8)?;
                            // `<?>`: whole, but too short for an instruction.
                            if length < 4 {
                                let error = quick_xml::errors::SyntaxError::UnclosedPI;
                                let error = quick_xml::Error::Syntax(error);
                                return Err(SkipFailure::Malformed(error.to_string()));
                            }
                            scan.state = State::Text;
                        }
                        Some(k) => {
                            *i += k + 1;
                            scan.state = State::Instruction(false);
                        }
                        None => {
                            scan.state = State::Instruction(rest.last() == Some(&b'?'));
                            *i = self.filled;
                        }
                    }
                }
            }
        }
        self.pos = self.filled;
        Ok(false)
    }
}

/// The quote open after `byte` inside a tag, given the one open before it (0 for none): a
/// quote opens a value anywhere in a tag, and only the same quote closes it.
fn quote_after(quote: u8, byte: u8) -> u8 {
    match (quote, byte) {
        (0, b'"' | b'\'') => byte,
        (open, _) if byte == open => 0,
        (open, _) => open,
    }
}

/// XML whitespace, as the tokenizer counts it.
pub(super) fn is_xml_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\r' | b'\n' | b'\t')
}

/// Looks in `rest` for the end of a comment (`mark` `-`) or CDATA section (`]`): two `mark`s
/// then `>`, of which `seen` marks ended the previous buffer. Returns whether it ended, the
/// marks at the end of `rest` (when it did not) and the bytes used.
fn closing(rest: &[u8], mark: u8, mut seen: u8) -> (bool, u8, usize) {
    for (index, byte) in rest.iter().enumerate() {
        match *byte {
            b'>' if seen >= 2 => return (true, 0, index + 1),
            b if b == mark => seen = (seen + 1).min(2),
            _ => seen = 0,
        }
    }
    (false, seen, rest.len())
}
