//! A start or empty-element tag as the reader hands it to the parsers: its name compared as
//! bytes, its attributes decoded only when asked for, its line counted only when asked for.

use std::io::Read;

use quick_xml::events::BytesStart;

use super::lines::LineTracker;
use super::FileContext;
use crate::package::error::{PackageError, PackageErrorKind};

/// A start or empty-element tag, borrowed from the stream until the next read.
pub(crate) struct Tag<'a> {
    /// The tag as read: `<name attributes>` or `<name attributes/>`, already checked as UTF-8
    /// by quick-xml (or plain ASCII, for a simple element the reader passed itself); it is
    /// viewed as text only when attributes are asked for.
    pub(super) raw: &'a [u8],
    pub(super) context: &'a FileContext,
    /// `<x/>`: the element has no content and no end tag to consume.
    pub empty: bool,
    pub(super) lines: &'a dyn Lines,
}

pub(super) trait Lines {
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
