//! Recognising a simple child element in the buffered bytes, so that the reader passes it
//! without the tokenizer: `<IsAuditEnabled>1</IsAuditEnabled>` and its thirty-odd siblings
//! are most of an attribute-dense `customizations.xml`, and tokenizing each as whitespace,
//! start tag, text and end tag costs several times what one look at its bytes does.
//!
//! Only a shape the tokenizer would read without a word of complaint is recognised: optional
//! XML whitespace, then `<Name>` (a plain ASCII name, no attributes) or `<Name/>`, then for the
//! former text free of markup, references and carriage returns, valid UTF-8, and the exact end
//! tag `</Name>`, all inside the buffer and within the token bound. Anything else, whether a
//! refusal or merely unusual, is left to the tokenizer, which reads it as it always did; so a
//! recognised element gives the same model, and an unrecognised one the same error, as a
//! tokenized read.

use std::io::Read;

use super::skip::is_xml_whitespace;
use super::LineTracker;

/// A simple element found at the read position: byte counts from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SimpleElement {
    /// XML whitespace before the start tag.
    pub leading: usize,
    /// `<Name>` or `<Name/>`.
    pub tag: usize,
    /// The text between the tags (none for `<Name/>`).
    pub text: usize,
    /// `</Name>` (none for `<Name/>`).
    pub end: usize,
}

impl SimpleElement {
    pub fn is_empty_tag(&self) -> bool {
        self.end == 0
    }
}

impl<R: Read> LineTracker<R> {
    /// The simple element starting at the read position, if the buffer holds one whole.
    pub(super) fn simple_element(&self) -> Option<SimpleElement> {
        let rest = &self.buf[self.pos..self.filled];
        let leading = rest.iter().position(|b| !is_xml_whitespace(*b))?;
        let tag_rest = &rest[leading..];
        let (name_len, empty) = plain_start_tag(tag_rest)?;
        let name = &tag_rest[1..1 + name_len];
        let tag = name_len + if empty { 3 } else { 2 };
        if empty {
            return self.within_bound(SimpleElement {
                leading,
                tag,
                text: 0,
                end: 0,
            });
        }
        let content = &tag_rest[tag..];
        let text = memchr::memchr(b'<', content)?;
        let body = &content[..text];
        if memchr::memchr2(b'&', b'\r', body).is_some() || std::str::from_utf8(body).is_err() {
            return None;
        }
        let end_tag = &content[text..];
        let end = name_len + 3;
        let closes = end_tag.len() >= end
            && end_tag.starts_with(b"</")
            && &end_tag[2..2 + name_len] == name
            && end_tag[2 + name_len] == b'>';
        if !closes {
            return None;
        }
        self.within_bound(SimpleElement {
            leading,
            tag,
            text,
            end,
        })
    }

    /// Each token (the whitespace, the tags, the text) is at most the token bound.
    fn within_bound(&self, element: SimpleElement) -> Option<SimpleElement> {
        let largest = element
            .leading
            .max(element.tag)
            .max(element.text)
            .max(element.end);
        (largest <= self.max_token_bytes).then_some(element)
    }
}

/// `<Name>` or `<Name/>` at the start of `bytes`, with a name of ASCII letters, digits, `_`,
/// `-`, `.` and `:` starting with a letter or `_`: the name's length and whether the tag is
/// empty.
fn plain_start_tag(bytes: &[u8]) -> Option<(usize, bool)> {
    let after = bytes.strip_prefix(b"<")?;
    let first = *after.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let name_len = after
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')))?;
    match &after[name_len..] {
        [b'>', ..] => Some((name_len, false)),
        [b'/', b'>', ..] => Some((name_len, true)),
        _ => None,
    }
}
