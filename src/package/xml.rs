//! A small pull-parser over quick-xml for the reader's recursive-descent parsers.
//!
//! It streams: nothing is loaded whole. It detects the text encoding (UTF-8 with or without BOM,
//! UTF-16 with or without BOM, or a declared legacy encoding) and transcodes to UTF-8 on the fly,
//! counts lines as bytes go by so every element knows where it was read, refuses DOCTYPEs (no
//! entity is ever expanded), and bounds nesting depth and the size of any single token.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use encoding_rs::Encoding;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

mod lines;
mod skip;

use lines::{LineTracker, TokenTooLarge};

use super::error::{PackageError, PackageErrorKind};
use super::limits::{DamagedEntry, InflateGuard, ReadLimits};
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

/// A start or empty-element tag, borrowed from the stream until the next read.
pub(crate) struct Tag<'a> {
    /// The tag as read: `<name attributes>` or `<name attributes/>`, already checked as UTF-8
    /// by quick-xml; it is viewed as text only when attributes are asked for.
    raw: &'a [u8],
    context: &'a FileContext,
    /// `<x/>`: the element has no content and no end tag to consume.
    pub empty: bool,
    lines: &'a dyn Lines,
}

trait Lines {
    fn current_line(&self) -> u64;
}

impl<R: Read> Lines for LineTracker<R> {
    fn current_line(&self) -> u64 {
        self.line()
    }
}

impl Tag<'_> {
    /// The line where the tag starts (counted on demand).
    pub fn line(&self) -> u64 {
        self.lines.current_line() - memchr::memchr_iter(b'\n', self.raw).count() as u64
    }

    /// The tag without `<`, `>` and the `/` of an empty element.
    fn content(&self) -> &[u8] {
        let raw = self.raw.strip_prefix(b"<").unwrap_or(self.raw);
        let raw = raw.strip_suffix(b">").unwrap_or(raw);
        if self.empty {
            raw.strip_suffix(b"/").unwrap_or(raw)
        } else {
            raw
        }
    }

    /// The local name (after any `prefix:`), as bytes; compared without decoding.
    pub fn name(&self) -> &[u8] {
        let content = self.content();
        let end = content
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(content.len());
        let full = &content[..end];
        match memchr::memrchr(b':', full) {
            Some(colon) => &full[colon + 1..],
            None => full,
        }
    }

    pub fn name_string(&self) -> String {
        String::from_utf8_lossy(self.name()).into_owned()
    }

    fn start(&self) -> Result<BytesStart<'_>, PackageError> {
        let content = std::str::from_utf8(self.content()).map_err(|e| {
            self.context
                .error(PackageErrorKind::Encoding(e.to_string()))
                .at(self.line(), None)
        })?;
        let name_len = content
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(content.len());
        Ok(BytesStart::from_content(content, name_len))
    }

    /// The value of an attribute (by local name), with references resolved.
    pub fn attr(&self, name: &str) -> Result<Option<String>, PackageError> {
        let start = self.start()?;
        for attribute in start.attributes() {
            if let Some(value) = self.decode(attribute, Some(name))? {
                return Ok(Some(value.1));
            }
        }
        Ok(None)
    }

    /// All attributes as (local name, value) pairs.
    pub fn attrs(&self) -> Result<Vec<(String, String)>, PackageError> {
        let start = self.start()?;
        let mut pairs = Vec::new();
        for attribute in start.attributes() {
            pairs.extend(self.decode(attribute, None)?);
        }
        Ok(pairs)
    }

    /// Decodes one attribute (unless `only` names another), mapping errors to this tag's line.
    fn decode(
        &self,
        attribute: Result<
            quick_xml::events::attributes::Attribute<'_>,
            quick_xml::events::attributes::AttrError,
        >,
        only: Option<&str>,
    ) -> Result<Option<(String, String)>, PackageError> {
        let malformed = |message: String| {
            self.context
                .error(PackageErrorKind::Xml(message))
                .at(self.line(), None)
        };
        let attribute = attribute.map_err(|e| malformed(e.to_string()))?;
        let key = attribute.key.local_name();
        if only.is_some_and(|wanted| key.as_ref() != wanted) {
            return Ok(None);
        }
        let key = key.as_ref().to_owned();
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| malformed(format!("attribute {key}: {e}")))?;
        Ok(Some((key, value.into_owned())))
    }
}

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
        self.buf.clear();
        self.reader.get_mut().mark();
        let event = match self.reader.read_event_into(&mut self.buf) {
            Ok(event) => event,
            Err(error) => return Err(read_error(&self.reader, &self.context, error)),
        };
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
        if self.scan_skipped {
            let (depth, max_depth) = (self.depth, self.max_depth);
            let tracker = self.reader.get_mut();
            let from = tracker.base + tracker.pos as u64;
            let scanned = tracker.skip_content(depth, max_depth);
            self.scanned_bytes += tracker.base + tracker.pos as u64 - from;
            if let Err(failure) = scanned {
                return Err(self.skip_failure(failure));
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

    fn skip_failure(&self, failure: skip::SkipFailure) -> PackageError {
        let tracker = self.reader.get_ref();
        let kind = match failure {
            skip::SkipFailure::Io(error)
                if error.get_ref().is_some_and(|e| e.is::<TokenTooLarge>()) =>
            {
                PackageErrorKind::TokenTooLarge(tracker.max_token_bytes)
            }
            skip::SkipFailure::Io(error) => match guard_or_damage(&error) {
                Some(kind) => return self.context.error(kind),
                None => read_failure(error),
            },
            skip::SkipFailure::Eof => {
                PackageErrorKind::Xml("unexpected end of file inside an element".into())
            }
            skip::SkipFailure::TooDeep => PackageErrorKind::TooDeep(self.max_depth),
            skip::SkipFailure::Doctype => PackageErrorKind::Doctype,
            skip::SkipFailure::TokenTooLarge => {
                PackageErrorKind::TokenTooLarge(tracker.max_token_bytes)
            }
            skip::SkipFailure::Malformed(message) => PackageErrorKind::Xml(message),
            skip::SkipFailure::Encoding { message, .. } => PackageErrorKind::Encoding(format!(
                "cannot decode input using UTF-8: {message}; solution files are UTF-8 (or UTF-16 with a byte-order mark)"
            )),
        };
        self.context
            .error(kind)
            .at(tracker.line(), Some(tracker.column()))
    }

    /// The text content of an element whose start tag was just read, trimmed; the content of
    /// nested elements is skipped.
    pub fn text(&mut self, empty: bool) -> Result<String, PackageError> {
        let mut text = String::new();
        if empty {
            return Ok(text);
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
        // Trim in place: most values have no surrounding whitespace, so no second allocation.
        let end = text.trim_end().len();
        text.truncate(end);
        let start = text.len() - text.trim_start().len();
        if start > 0 {
            text.drain(..start);
        }
        Ok(text)
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

/// What a failed read of the underlying bytes means: a guard, damaged data, or plain I/O.
pub(crate) fn read_failure(error: io::Error) -> PackageErrorKind {
    guard_or_damage(&error).unwrap_or(PackageErrorKind::Io(error))
}

/// The zip-bomb guard that stopped a read, or the damage an entry's inflater found.
fn guard_or_damage(error: &io::Error) -> Option<PackageErrorKind> {
    let inner = error.get_ref()?;
    if let Some(guard) = inner.downcast_ref::<InflateGuard>() {
        return Some(guard.into_kind());
    }
    inner
        .is::<DamagedEntry>()
        .then(|| PackageErrorKind::CorruptZip(error.to_string()))
}

fn read_error(
    reader: &Reader<Source<'_>>,
    context: &FileContext,
    error: quick_xml::Error,
) -> PackageError {
    if let quick_xml::Error::Io(io) = &error {
        // Where the parser stood when the inflater gave up depends on how much the inflater
        // had handed over, not on the XML; a line there would differ between two reads.
        if let Some(kind) = guard_or_damage(io) {
            return context.error(kind);
        }
    }
    let kind = match &error {
        quick_xml::Error::Io(io) if io.get_ref().is_some_and(|e| e.is::<TokenTooLarge>()) => {
            PackageErrorKind::TokenTooLarge(reader.get_ref().max_token_bytes)
        }
        quick_xml::Error::Io(io) if io.kind() == io::ErrorKind::InvalidData => {
            PackageErrorKind::Encoding(io.to_string())
        }
        quick_xml::Error::Io(io) => PackageErrorKind::Io(io::Error::new(io.kind(), io.to_string())),
        quick_xml::Error::Encoding(e) => PackageErrorKind::Encoding(format!(
            "{e}; solution files are UTF-8 (or UTF-16 with a byte-order mark)"
        )),
        other => PackageErrorKind::Xml(other.to_string()),
    };
    let tracker = reader.get_ref();
    context
        .error(kind)
        .at(tracker.line(), Some(tracker.column()))
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
mod tests {
    use super::*;

    fn stream(bytes: &[u8]) -> XmlStream<'_> {
        XmlStream::open(
            bytes,
            FileContext::new(Path::new("pkg.zip"), "solution.xml"),
            &ReadLimits::default(),
        )
        .expect("stream opens")
    }

    fn root_children(bytes: &[u8]) -> Result<Vec<(String, String, u64)>, PackageError> {
        let mut xml = stream(bytes);
        let root = xml.root()?;
        let empty = root.empty;
        let mut found = Vec::new();
        if empty {
            return Ok(found);
        }
        while let Some(tag) = xml.next_child()? {
            let (name, empty, line) = (tag.name_string(), tag.empty, tag.line());
            let text = xml.text(empty)?;
            found.push((name, text, line));
        }
        xml.finish()?;
        Ok(found)
    }

    #[test]
    fn reads_text_with_references_and_lines() {
        let xml =
            b"<Root>\n  <A>x &amp; y &#x41;</A>\n\n  <B\n k='1'>b<![CDATA[<c>]]></B>\n</Root>";
        let children = root_children(xml).expect("parses");
        assert_eq!(
            children,
            vec![
                ("A".into(), "x & y A".into(), 2),
                ("B".into(), "b<c>".into(), 4)
            ]
        );
    }

    #[test]
    fn utf8_bom_and_utf16_files_read_the_same() {
        let text = "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<Root><A>Zürich</A></Root>";
        let expected = vec![("A".to_string(), "Zürich".to_string(), 2)];
        let mut bom_utf8 = vec![0xEF, 0xBB, 0xBF];
        bom_utf8.extend_from_slice(text.as_bytes());
        assert_eq!(root_children(&bom_utf8).expect("utf-8 bom"), expected);
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut le_bom = vec![0xFF, 0xFE];
        le_bom.extend_from_slice(&le);
        assert_eq!(root_children(&le_bom).expect("utf-16le bom"), expected);
        assert_eq!(root_children(&le).expect("utf-16le no bom"), expected);
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(root_children(&be).expect("utf-16be no bom"), expected);
    }

    #[test]
    fn declared_legacy_encoding_is_transcoded() {
        let mut bytes = b"<?xml version='1.0' encoding='windows-1252'?><Root><A>Z".to_vec();
        bytes.push(0xFC); // ü in windows-1252
        bytes.extend_from_slice(b"rich</A></Root>");
        assert_eq!(root_children(&bytes).expect("parses")[0].1, "Zürich");
    }

    #[test]
    fn invalid_utf8_is_an_encoding_error_with_position() {
        let error = root_children(b"<Root>\n<A>\xFF\xFE\xFD</A></Root>").expect_err("invalid");
        assert_eq!(error.code(), "bad-encoding", "{error}");
        assert_eq!(error.line(), Some(2), "{error}");
    }

    #[test]
    fn doctype_is_refused_before_any_entity_is_expanded() {
        let bomb = b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><Root><A>&lol2;</A></Root>";
        let error = root_children(bomb).expect_err("refused");
        assert_eq!(error.code(), "xml-doctype");
        let external = b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Root>&x;</Root>";
        assert_eq!(
            root_children(external).expect_err("refused").code(),
            "xml-doctype"
        );
    }

    #[test]
    fn undeclared_entity_is_an_error() {
        let error = root_children(b"<Root><A>&nope;</A></Root>").expect_err("undeclared");
        assert!(
            error.to_string().contains("undeclared entity &nope;"),
            "{error}"
        );
    }

    #[test]
    fn malformed_xml_names_line_and_column() {
        let error = root_children(b"<Root>\n  <A>x</B>\n</Root>").expect_err("mismatched");
        assert_eq!(error.code(), "malformed-xml");
        assert_eq!(error.line(), Some(2), "{error}");
        assert!(
            error.to_string().starts_with("pkg.zip: solution.xml:2:"),
            "{error}"
        );
    }

    #[test]
    fn deep_nesting_and_huge_tokens_are_bounded() {
        let deep = "<a>".repeat(100_000);
        assert_eq!(
            root_children(deep.as_bytes()).expect_err("too deep").code(),
            "malformed-xml"
        );
        let limits = ReadLimits {
            max_xml_token_bytes: 1024,
            ..ReadLimits::default()
        };
        let huge = format!("<Root><A v=\"{}\"/></Root>", "x".repeat(10_000));
        let mut xml = XmlStream::open(
            huge.as_bytes(),
            FileContext::new(Path::new("p"), "f.xml"),
            &limits,
        )
        .expect("opens");
        let root_empty = xml.root().expect("root").empty;
        assert!(!root_empty);
        let error = xml.next_child().err().expect("token too large");
        assert!(
            matches!(error.kind(), PackageErrorKind::TokenTooLarge(1024)),
            "{error}"
        );
    }

    #[test]
    fn truncated_document_is_an_error() {
        let error = root_children(b"<Root><A>x</A>").expect_err("truncated");
        assert_eq!(error.code(), "malformed-xml");
    }
}
