//! What a failed read means, in the reader's words: a zip-bomb guard or damaged entry under
//! the XML, a token past its bound, bytes that are not UTF-8, or malformed XML; each placed at
//! the line and column where the tokenizer or the skip scanner stood.

use std::io::{self, Read};

use quick_xml::Reader;

use super::lines::{LineTracker, TokenTooLarge};
use super::skip::SkipFailure;
use super::{FileContext, Source};
use crate::package::error::{PackageError, PackageErrorKind};
use crate::package::limits::{DamagedEntry, InflateGuard};

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

pub(super) fn read_error(
    reader: &Reader<Source<'_>>,
    context: &FileContext,
    error: quick_xml::Error,
) -> PackageError {
    tokenizer_error(reader.get_ref(), context, error)
}

/// The tokenizer's error, at the place of the `tracker` it read from.
fn tokenizer_error<R: Read>(
    tracker: &LineTracker<R>,
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
            PackageErrorKind::TokenTooLarge(tracker.max_token_bytes)
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
    context
        .error(kind)
        .at(tracker.line(), Some(tracker.column()))
}

/// Why a skip stopped early, as a refusal at the scanner's place.
pub(super) fn skip_failure<R: Read>(
    context: &FileContext,
    tracker: &LineTracker<R>,
    max_depth: usize,
    failure: SkipFailure,
) -> PackageError {
    let kind = match failure {
        SkipFailure::Io(error)
            if error.get_ref().is_some_and(|e| e.is::<TokenTooLarge>()) =>
        {
            PackageErrorKind::TokenTooLarge(tracker.max_token_bytes)
        }
        SkipFailure::Io(error) => match guard_or_damage(&error) {
            Some(kind) => return context.error(kind),
            None => read_failure(error),
        },
        SkipFailure::Eof => {
            PackageErrorKind::Xml("unexpected end of file inside an element".into())
        }
        SkipFailure::TooDeep => PackageErrorKind::TooDeep(max_depth),
        // Where the declaration ends, without a column, as the tokenized read places it.
        SkipFailure::Doctype => {
            return context
                .error(PackageErrorKind::Doctype)
                .at(tracker.line(), None)
        }
        SkipFailure::TokenTooLarge => {
            PackageErrorKind::TokenTooLarge(tracker.max_token_bytes)
        }
        SkipFailure::Malformed(message) => PackageErrorKind::Xml(message),
        SkipFailure::Tokenizer(error) => return tokenizer_error(tracker, context, error),
        SkipFailure::Encoding { message, .. } => PackageErrorKind::Encoding(format!(
            "cannot decode input using UTF-8: {message}; solution files are UTF-8 (or UTF-16 with a byte-order mark)"
        )),
    };
    context
        .error(kind)
        .at(tracker.line(), Some(tracker.column()))
}
