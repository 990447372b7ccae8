//! Skipping an element's content by scanning bytes instead of tokenizing them: most of a real
//! `customizations.xml` (forms, views, ribbons, site maps) is subtrees no policy reads. The
//! scanner jumps between markup with `memchr`, follows just enough of XML to find where each
//! tag, comment, CDATA section, processing instruction and reference ends, and keeps every
//! guard of the tokenizer: the names of nested start and end tags must match, the nesting
//! depth and the size of one token stay bounded, a DOCTYPE is refused, and an element cut off
//! by the end of the file is an error. It stops at the `<` of the skipped element's own end
//! tag, which the tokenizer then reads (and checks against the start tag it read). Every byte
//! passed is checked to be UTF-8, as the tokenizer checks every token. Lines stay right
//! because the line tracker counts newlines in whatever bytes go by.

use std::io::{self, Read};

use super::LineTracker;

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
    /// Bytes that are not UTF-8, the first `at` bytes into the slice checked.
    Encoding {
        message: String,
        at: usize,
    },
}

/// The UTF-8 check of the bytes scanned, buffer after buffer: a character cut by the end of
/// one buffer is completed from the next.
#[derive(Default)]
struct Utf8Check {
    pending: [u8; 4],
    len: usize,
}

impl Utf8Check {
    fn check(&mut self, mut bytes: &[u8]) -> Result<(), SkipFailure> {
        // Worded without the offset the library names: it counts from where a buffer began.
        let invalid = |e: std::str::Utf8Error, at: usize| SkipFailure::Encoding {
            message: match e.error_len() {
                Some(n) => format!("invalid utf-8 sequence of {n} bytes"),
                None => "incomplete utf-8 byte sequence".to_owned(),
            },
            at,
        };
        if self.len > 0 {
            let width = match self.pending[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (width - self.len).min(bytes.len());
            self.pending[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            if self.len < width {
                return Ok(());
            }
            std::str::from_utf8(&self.pending[..self.len]).map_err(|e| invalid(e, 0))?;
            self.len = 0;
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &bytes[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.len = tail.len();
                Ok(())
            }
            Err(e) => Err(invalid(e, e.valid_up_to())),
        }
    }

    /// The scan ended (`at` bytes into the last slice checked): a character still cut is not
    /// UTF-8.
    fn finish(&self, at: usize) -> Result<(), SkipFailure> {
        if self.len > 0 {
            return Err(SkipFailure::Encoding {
                message: format!("incomplete utf-8 byte sequence of {} bytes", self.len),
                at,
            });
        }
        Ok(())
    }
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
    /// Inside `<? ... ?>`; whether the last byte was `?`.
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
    fn close(&mut self) -> Result<(), SkipFailure> {
        let end = self
            .name
            .iter()
            .rposition(|b| !is_xml_whitespace(*b))
            .map_or(0, |i| i + 1);
        let found = &self.name[..end];
        let start = self.ends.len().checked_sub(2).map_or(0, |i| self.ends[i]);
        let expected = &self.names[start..];
        if expected != found {
            let error = quick_xml::errors::IllFormedError::MismatchedEndTag {
                expected: String::from_utf8_lossy(expected).into_owned(),
                found: String::from_utf8_lossy(found).into_owned(),
            };
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

    /// Starts a token at `at` in the buffer, after checking the one that ends there.
    fn token_at(&mut self, at: usize) -> Result<(), SkipFailure> {
        let offset = self.base + at as u64;
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
        let mut scan = Scan {
            state: State::Text,
            names: Vec::new(),
            ends: Vec::new(),
            name: Vec::new(),
            depth,
            max_depth,
            utf8: Utf8Check::default(),
        };
        self.mark_offset = self.base + self.pos as u64;
        loop {
            if self.pos >= self.filled {
                self.refill()?;
                if self.filled == 0 {
                    return Err(SkipFailure::Eof);
                }
            }
            if self.scan_chunk(&mut scan)? {
                return Ok(());
            }
        }
    }

    /// Scans the buffered bytes; `true` once the skipped element's end tag is next. A failure
    /// is reported where the scan stands (not where the buffer began), as the tokenizer would.
    fn scan_chunk(&mut self, scan: &mut Scan) -> Result<bool, SkipFailure> {
        let start = self.pos;
        let mut cursor = self.pos;
        let failure = match self.scan_bytes(scan, start, &mut cursor) {
            Ok(done) => return Ok(done),
            // The scan had moved on (a refill): the place is already where it stopped.
            Err(failure) if self.pos != start => return Err(failure),
            Err(failure) => failure,
        };
        let end = cursor.min(self.filled);
        // Bytes before a structural failure are checked first: the tokenizer meets them first.
        let failure = match failure {
            SkipFailure::Encoding { .. } => failure,
            other => scan
                .utf8
                .check(&self.buf[start..end])
                .err()
                .unwrap_or(other),
        };
        self.pos = match &failure {
            SkipFailure::Encoding { at, .. } => (start + at).min(self.filled),
            _ => end,
        };
        Err(failure)
    }

    fn scan_bytes(
        &mut self,
        scan: &mut Scan,
        start: usize,
        i: &mut usize,
    ) -> Result<bool, SkipFailure> {
        while *i < self.filled {
            match scan.state {
                State::Text => {
                    let Some(k) = memchr::memchr2(b'<', b'&', &self.buf[*i..self.filled]) else {
                        *i = self.filled;
                        continue;
                    };
                    let at = *i + k;
                    if self.buf[at] == b'&' {
                        self.token_at(at)?;
                        scan.state = State::Reference;
                        *i = at + 1;
                        continue;
                    }
                    if at + 1 >= self.filled {
                        // What follows `<` decides; fetch it and look again from `<`.
                        scan.utf8.check(&self.buf[start..at])?;
                        self.pos = at;
                        self.fill_at_least(2)?;
                        if self.filled - self.pos < 2 {
                            return Err(SkipFailure::Eof);
                        }
                        return Ok(false);
                    }
                    self.token_at(at)?;
                    scan.name.clear();
                    match self.buf[at + 1] {
                        b'/' if scan.ends.is_empty() => {
                            scan.utf8.check(&self.buf[start..at])?;
                            scan.utf8.finish(at - start)?;
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
                        b'?' => {
                            scan.state = State::Instruction(false);
                            *i = at + 2;
                        }
                        _ => {
                            scan.state = State::StartName { quote: 0 };
                            *i = at + 1;
                        }
                    }
                }
                State::Reference => match memchr::memchr(b';', &self.buf[*i..self.filled]) {
                    Some(k) => {
                        *i += k + 1;
                        self.token_at(*i)?;
                        scan.state = State::Text;
                    }
                    None => *i = self.filled,
                },
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
                            if empty {
                                scan.name.pop();
                            } else {
                                scan.open()?;
                            }
                            self.token_at(*i)?;
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
                            if !empty {
                                scan.open()?;
                            }
                            self.token_at(*i)?;
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
                            scan.close()?;
                            self.token_at(*i)?;
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
                        return Err(if read.eq_ignore_ascii_case(&b"D"[..]) {
                            SkipFailure::Doctype
                        } else {
                            SkipFailure::Malformed(
                                "unknown markup `<!` inside an element".to_owned(),
                            )
                        });
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
                        self.token_at(*i)?;
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
                            self.token_at(*i)?;
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
        scan.utf8.check(&self.buf[start..self.filled])?;
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
fn is_xml_whitespace(byte: u8) -> bool {
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
