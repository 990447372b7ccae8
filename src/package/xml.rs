//! A small pull-parser over quick-xml for the reader's recursive-descent parsers.
//!
//! It streams: nothing is loaded whole. It detects the text encoding (UTF-8 with or without BOM,
//! UTF-16 with or without BOM, or a declared legacy encoding) and transcodes to UTF-8 on the fly,
//! counts lines as bytes go by so every element knows where it was read, refuses DOCTYPEs (no
//! entity is ever expanded), and bounds nesting depth and the size of any single token.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use encoding_rs::Encoding;
use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

mod failure;
mod lines;
mod simple;
mod skip;
mod tag;

pub(crate) use failure::read_failure;
use failure::{read_error, skip_failure};
use lines::LineTracker;
use simple::SimpleElement;
pub(crate) use tag::Tag;

use super::error::{PackageError, PackageErrorKind};
use super::limits::ReadLimits;
use super::model::Location;

/// Bytes peeked at the start of a file to recognise its encoding and XML declaration.
const SNIFF_BYTES: usize = 256;
/// Read buffer: large enough that inflating and tokenizing run in big chunks.
const READ_BUFFER_BYTES: usize = 64 * 1024;
const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Where errors are reported: the package and the file inside it.
#[derive(Debug, Clone)]
pub(crate) struct FileContext {
    pub package: PathBuf,
    pub file: Arc<str>,
}

impl FileContext {
    pub fn new(package: &Path, file: &str) -> Self {
        Self {
            package: package.to_path_buf(),
            file: Arc::from(file),
        }
    }

    pub fn error(&self, kind: PackageErrorKind) -> PackageError {
        PackageError::in_file(&self.package, &self.file, kind)
    }
}

type Source<'r> = LineTracker<Box<dyn Read + 'r>>;

/// The event stream of one XML file.
pub(crate) struct XmlStream<'r> {
    reader: Reader<Source<'r>>,
    buf: Vec<u8>,
    depth: usize,
    max_depth: usize,
    context: FileContext,
    /// Skipped elements are scanned past, not tokenized ([`ReadLimits::scan_skipped`]).
    scan_skipped: bool,
    /// Bytes scanned past so far: what share of a file no check reads (logged at debug level
    /// when the stream is done; `benches/skipped_share.sh` sums it over the corpus).
    scanned_bytes: u64,
    /// The tokenizer stands between tokens: the next byte of the source starts text or markup
    /// (after a tag, comment or the like; not after text, whose `<` it has yet to take), so
    /// bytes may be passed beneath it.
    between_tokens: bool,
    /// A simple child element returned by [`Self::next_child`] without the tokenizer: its
    /// start tag is the read position; its text and end tag are passed by whatever reads its
    /// content next (or it is tokenized after all, if anything else reads on).
    pending: Option<SimpleElement>,
}

impl Drop for XmlStream<'_> {
    fn drop(&mut self) {
        let tracker = self.reader.get_ref();
        tracing::debug!(
            target: "solguard::package::xml",
            package = %crate::diagnostic::shown(&self.context.package),
            file = %crate::diagnostic::visible(&self.context.file),
            bytes = tracker.base + tracker.pos as u64,
            scanned_bytes = self.scanned_bytes,
            "XML stream done"
        );
    }
}

impl<'r> XmlStream<'r> {
    /// Opens a stream over `input`, detecting its encoding.
    pub fn open(
        input: impl Read + 'r,
        context: FileContext,
        limits: &ReadLimits,
    ) -> Result<Self, PackageError> {
        let mut input = input;
        let mut prefix = Vec::with_capacity(SNIFF_BYTES);
        (&mut input)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut prefix)
            .map_err(|e| context.error(read_failure(e)))?;
        let encoding = sniff_encoding(&prefix).map_err(|e| context.error(e))?;
        if encoding.is_none() && prefix.starts_with(UTF8_BOM) {
            prefix.drain(..UTF8_BOM.len());
        }
        let stream = Cursor::new(prefix).chain(input);
        let decoded: Box<dyn Read + 'r> = match encoding {
            None => Box::new(stream),
            Some(encoding) => Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(encoding))
                    .build(stream),
            ),
        };
        let tracker = LineTracker {
            inner: decoded,
            buf: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            pos: 0,
            filled: 0,
            base: 0,
            counted: Cell::new(0),
            newlines: Cell::new(0),
            line_start: Cell::new(0),
            mark_offset: 0,
            max_token_bytes: limits.max_xml_token_bytes,
        };
        let reader = Reader::from_reader(tracker);
        Ok(Self {
            reader,
            buf: Vec::with_capacity(4096),
            depth: 0,
            max_depth: limits.max_xml_depth,
            context,
            scan_skipped: limits.scan_skipped,
            scanned_bytes: 0,
            between_tokens: false,
            pending: None,
        })
    }

    pub fn location(&self, line: u64) -> Location {
        Location {
            package: None,
            file: Arc::clone(&self.context.file),
            line,
        }
    }

    /// An error at the current read position.
    pub fn error_here(&self, kind: PackageErrorKind) -> PackageError {
        let tracker = self.reader.get_ref();
        self.context
            .error(kind)
            .at(tracker.line(), Some(tracker.column()))
    }

    /// An error at a known line (e.g. the line of the element it is about).
    pub fn error_at(&self, line: u64, kind: PackageErrorKind) -> PackageError {
        self.context.error(kind).at(line, None)
    }

    /// Reads the next event with every guard applied: the size of one token, the nesting
    /// depth, and the refusal of DOCTYPEs.
    fn read_raw(&mut self) -> Result<Event<'_>, PackageError> {
        // A simple element read on by anything but its own content readers is tokenized.
        self.pending = None;
        self.buf.clear();
        self.reader.get_mut().mark();
        self.between_tokens = false;
        let event = match self.reader.read_event_into(&mut self.buf) {
            Ok(event) => event,
            Err(error) => return Err(read_error(&self.reader, &self.context, error)),
        };
        self.between_tokens = !matches!(event, Event::Text(_) | Event::GeneralRef(_) | Event::Eof);
        let tracker = self.reader.get_ref();
        if tracker.token_overflow() {
            let kind = PackageErrorKind::TokenTooLarge(tracker.max_token_bytes);
            return Err(self.context.error(kind).at(tracker.line(), None));
        }
        match &event {
            Event::Start(_) => {
                self.depth += 1;
                if self.depth > self.max_depth {
                    let kind = PackageErrorKind::TooDeep(self.max_depth);
                    return Err(self.context.error(kind).at(tracker.line(), None));
                }
            }
            Event::End(_) => self.depth = self.depth.saturating_sub(1),
            Event::DocType(_) => {
                let kind = PackageErrorKind::Doctype;
                return Err(self.context.error(kind).at(tracker.line(), None));
            }
            _ => {}
        }
        Ok(event)
    }

    /// Reads the next event; comments, declarations and processing instructions are `Skip`.
    fn next_event(&mut self) -> Result<Ev<'_>, PackageError> {
        Ok(match self.read_raw()? {
            Event::Start(_) => Ev::Tag { empty: false },
            Event::Empty(_) => Ev::Tag { empty: true },
            Event::End(_) => Ev::End,
            Event::Text(text) => Ev::Text(RawText::Text(text)),
            Event::CData(data) => Ev::Text(RawText::CData(data)),
            Event::GeneralRef(reference) => Ev::Ref(reference),
            Event::Eof => Ev::Eof,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => Ev::Skip,
        })
    }

    /// Reads the root element's start tag.
    pub fn root(&mut self) -> Result<Tag<'_>, PackageError> {
        loop {
            let line = self.reader.get_ref().line();
            match self.next_event()? {
                Ev::Tag { empty } => return Ok(self.current_tag(empty)),
                Ev::Skip => {}
                Ev::Eof => {
                    return Err(self.error_at(
                        line,
                        PackageErrorKind::Xml("the file has no root element".into()),
                    ))
                }
                Ev::Text(text) if text.content().trim().is_empty() => {}
                Ev::Text(_) | Ev::Ref(_) | Ev::End => {
                    return Err(self
                        .error_here(PackageErrorKind::Xml("text before the root element".into())))
                }
            }
        }
    }

    /// Re-borrows the tag just read as a [`Tag`]. Only valid right after a `Tag` event, whose
    /// bytes quick-xml leaves in `buf` as `<name attributes>` or `<name attributes/>`.
    fn current_tag(&self, empty: bool) -> Tag<'_> {
        Tag {
            raw: &self.buf,
            context: &self.context,
            empty,
            lines: self.reader.get_ref(),
        }
    }

    /// The next child element of the element whose content is being read, or `None` once its
    /// end tag has been consumed. Text between children is ignored.
    pub fn next_child(&mut self) -> Result<Option<Tag<'_>>, PackageError> {
        if self.pending.is_some() {
            self.pass_pending();
            return Ok(None);
        }
        if self.scan_skipped && self.between_tokens && self.depth < self.max_depth {
            if let Some(element) = self.reader.get_ref().simple_element() {
                return Ok(Some(self.simple_child(element)));
            }
        }
        loop {
            match self.next_event()? {
                Ev::Tag { empty } => return Ok(Some(self.current_tag(empty))),
                Ev::End => return Ok(None),
                Ev::Eof => {
                    return Err(self.error_here(PackageErrorKind::Xml(
                        "unexpected end of file inside an element".into(),
                    )))
                }
                Ev::Text(_) | Ev::Ref(_) | Ev::Skip => continue,
            }
        }
    }

    /// Consumes the rest of an element whose start tag was just read.
    pub fn skip(&mut self, empty: bool) -> Result<(), PackageError> {
        if empty {
            return Ok(());
        }
        if let Some(element) = self.pending {
            self.scanned_bytes += element.text as u64;
            self.pass_pending();
            return Ok(());
        }
        if self.scan_skipped {
            let (depth, max_depth) = (self.depth, self.max_depth);
            let tracker = self.reader.get_mut();
            let from = tracker.base + tracker.pos as u64;
            let scanned = tracker.skip_content(depth, max_depth);
            self.scanned_bytes += tracker.base + tracker.pos as u64 - from;
            if let Err(failure) = scanned {
                return Err(skip_failure(
                    &self.context,
                    self.reader.get_ref(),
                    self.max_depth,
                    failure,
                ));
            }
            // The element's own end tag, read by the tokenizer against its start tag.
            return match self.read_raw()? {
                Event::End(_) => Ok(()),
                _ => Err(self.error_here(PackageErrorKind::Xml(
                    "expected the end tag of a skipped element".into(),
                ))),
            };
        }
        // Straight on the guarded raw events: skipped subtrees are most of a large file.
        let mut open = 1usize;
        while open > 0 {
            match self.read_raw()? {
                Event::Start(_) => open += 1,
                Event::End(_) => open -= 1,
                Event::Eof => {
                    return Err(self.error_here(PackageErrorKind::Xml(
                        "unexpected end of file inside an element".into(),
                    )))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The text content of an element whose start tag was just read, trimmed; the content of
    /// nested elements is skipped.
    pub fn text(&mut self, empty: bool) -> Result<String, PackageError> {
        let mut text = String::new();
        if empty {
            return Ok(text);
        }
        if let Some(element) = self.pending {
            let tracker = self.reader.get_ref();
            let start = tracker.pos + element.tag;
            let body = &tracker.buf[start..start + element.text];
            // Checked as UTF-8 when it was recognised.
            text.push_str(&String::from_utf8_lossy(body));
            self.pass_pending();
            return Ok(trimmed(text));
        }
        loop {
            match self.next_event()? {
                Ev::Text(content) => text.push_str(&content.content()),
                Ev::Ref(reference) => {
                    let resolved = resolve_reference(&reference);
                    match resolved {
                        Ok(value) => text.push_str(&value),
                        Err(message) => return Err(self.error_here(PackageErrorKind::Xml(message))),
                    }
                }
                Ev::Tag { empty } => self.skip(empty)?,
                Ev::Skip => {}
                Ev::End => break,
                Ev::Eof => {
                    return Err(self.error_here(PackageErrorKind::Xml(
                        "unexpected end of file inside an element".into(),
                    )))
                }
            }
        }
        Ok(trimmed(text))
    }

    /// Returns `element` (found at the read position) as the next child: its leading
    /// whitespace is passed, and its start tag becomes the read position, as if read.
    fn simple_child(&mut self, element: SimpleElement) -> Tag<'_> {
        let tracker = self.reader.get_mut();
        tracker.pos += element.leading;
        let start = tracker.pos;
        self.buf.clear();
        self.buf
            .extend_from_slice(&tracker.buf[start..start + element.tag]);
        let empty = element.is_empty_tag();
        if !empty {
            self.pending = Some(element);
        } else {
            tracker.pos += element.tag;
        }
        self.current_tag(empty)
    }

    /// Passes the pending simple element: start tag, text and end tag.
    fn pass_pending(&mut self) {
        if let Some(element) = self.pending.take() {
            let tracker = self.reader.get_mut();
            tracker.pos += element.tag + element.text + element.end;
            tracker.mark();
        }
    }

    /// Reads to the end of the document after the root element closed: trailing elements or
    /// text are malformed.
    pub fn finish(&mut self) -> Result<(), PackageError> {
        loop {
            match self.next_event()? {
                Ev::Eof => return Ok(()),
                Ev::Skip => {}
                Ev::Text(text) if text.content().trim().is_empty() => {}
                Ev::Text(_) | Ev::Ref(_) | Ev::Tag { .. } | Ev::End => {
                    return Err(self.error_here(PackageErrorKind::Xml(
                        "content after the root element".into(),
                    )))
                }
            }
        }
    }
}

enum Ev<'a> {
    /// A start tag (`empty: false`) or an empty-element tag; see [`XmlStream::current_tag`].
    Tag {
        empty: bool,
    },
    End,
    Text(RawText<'a>),
    Ref(BytesRef<'a>),
    Skip,
    Eof,
}

enum RawText<'a> {
    Text(quick_xml::events::BytesText<'a>),
    CData(quick_xml::events::BytesCData<'a>),
}

impl<'a> RawText<'a> {
    fn content(&self) -> Cow<'a, str> {
        match self {
            Self::Text(text) => text.xml10_content(),
            Self::CData(data) => data.xml10_content(),
        }
    }
}

/// `text` without surrounding whitespace, trimmed in place: most values have none, so no
/// second allocation.
fn trimmed(mut text: String) -> String {
    let end = text.trim_end().len();
    text.truncate(end);
    let start = text.len() - text.trim_start().len();
    if start > 0 {
        text.drain(..start);
    }
    text
}

fn resolve_reference(reference: &BytesRef<'_>) -> Result<String, String> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(ch)) => Ok(ch.to_string()),
            Ok(None) | Err(_) => Err(format!("invalid character reference &{};", &**reference)),
        };
    }
    quick_xml::escape::resolve_predefined_entity(reference)
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "undeclared entity &{}; (only the five predefined XML entities are allowed)",
                &**reference
            )
        })
}

/// Decides how to decode a file from its first bytes: `None` for UTF-8 (read as is).
fn sniff_encoding(prefix: &[u8]) -> Result<Option<&'static Encoding>, PackageErrorKind> {
    match prefix {
        [0xFF, 0xFE, ..] | [b'<', 0, _, 0, ..] => return Ok(Some(encoding_rs::UTF_16LE)),
        [0xFE, 0xFF, ..] | [0, b'<', 0, _, ..] => return Ok(Some(encoding_rs::UTF_16BE)),
        [0xEF, 0xBB, 0xBF, ..] => return Ok(None),
        _ => {}
    }
    let Some(label) = declared_encoding(prefix) else {
        return Ok(None);
    };
    match Encoding::for_label(label.as_bytes()) {
        Some(encoding) if encoding == encoding_rs::UTF_8 => Ok(None),
        // A declaration saying UTF-16 on a file without UTF-16 bytes: the bytes win.
        Some(encoding)
            if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE =>
        {
            Ok(None)
        }
        Some(encoding) => Ok(Some(encoding)),
        None => Err(PackageErrorKind::Encoding(format!(
            "the XML declaration names an unknown encoding {label:?}"
        ))),
    }
}

/// The `encoding` pseudo-attribute of an `<?xml …?>` declaration at the start of `prefix`.
fn declared_encoding(prefix: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(prefix)
        .or_else(|e| std::str::from_utf8(&prefix[..e.valid_up_to()]))
        .ok()?;
    let declaration = text.strip_prefix("<?xml")?;
    let declaration = &declaration[..declaration.find("?>")?];
    let at = declaration.find("encoding")?;
    let rest = declaration[at + "encoding".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_owned())
}

#[cfg(test)]
mod tests;
