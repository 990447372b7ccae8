//! The UTF-8 check of the bytes a skip passes: checked ahead of the scan, buffer after
//! buffer, a character cut by a buffer's end completed from the next. The first bad bytes are
//! kept, not reported at once: the tokenizer checks each token when it ends, so the scan
//! refuses them where their token ends, in the tokenizer's words, and the place does not depend
//! on where a buffer began.

use super::SkipFailure;

/// How far into a skip the UTF-8 check starts looking ahead of the scan. Below it, bytes are
/// checked up to each token's end only: most skips are a small element (an attribute's
/// `<IsAuditEnabled>` and the like), and bytes checked past a skip's end would be checked
/// again by the tokenizer. Past it, the check looks as far ahead as the skip has come, so a
/// large subtree is checked in a few long runs rather than token by token.
const LOOK_AHEAD_AFTER: u64 = 1024;

/// The UTF-8 check of the bytes scanned, ahead of the scan: a character cut by the end of one
/// buffer is completed from the next. The first bytes that are not UTF-8 are kept, not
/// reported: the tokenizer checks whole tokens, so they are refused where their token ends,
/// which makes the place the same wherever buffers happen to begin.
pub(super) struct Utf8Check {
    pending: [u8; 4],
    len: usize,
    /// Where the skip began in the input.
    started: u64,
    /// Input before this offset is checked (its last `len` bytes are pending).
    checked_to: u64,
    bad: Option<BadBytes>,
}

/// The first bytes of a skip that are not UTF-8.
#[derive(Clone, Copy)]
struct BadBytes {
    /// Where they start in the input.
    at: u64,
    /// How many bytes form the bad sequence (std's `error_len`).
    len: usize,
    /// Whether they begin a character that the next byte cut short.
    truncated: bool,
}

impl BadBytes {
    /// `bytes[error.valid_up_to()..]` holds the bad sequence; `offset` is where `bytes` start.
    fn of(bytes: &[u8], error: std::str::Utf8Error, offset: u64) -> Self {
        let start = error.valid_up_to();
        let len = error.error_len().unwrap_or(bytes.len() - start);
        let truncated =
            std::str::from_utf8(&bytes[start..start + len]).is_err_and(|e| e.error_len().is_none());
        Self {
            at: offset + start as u64,
            len,
            truncated,
        }
    }

    /// The tokenizer's words for a token from `token_start` to `token_end` holding them: the
    /// standard library's, counting from the token's first byte.
    fn message(&self, token_start: u64, token_end: u64) -> String {
        let index = self.at.saturating_sub(token_start);
        if self.truncated && self.at + self.len as u64 >= token_end {
            format!("incomplete utf-8 byte sequence from index {index}")
        } else {
            format!(
                "invalid utf-8 sequence of {} bytes from index {index}",
                self.len
            )
        }
    }
}

impl Utf8Check {
    pub(super) fn new(started: u64) -> Self {
        Self {
            pending: [0; 4],
            len: 0,
            started,
            checked_to: started,
            bad: None,
        }
    }

    /// Checks the buffered bytes (`buf`, which begins at input offset `base`) to past `to`.
    pub(super) fn cover(&mut self, buf: &[u8], base: u64, to: usize) {
        let to = base + to as u64;
        if self.bad.is_some() || to < self.checked_to {
            return;
        }
        let came = to - self.started;
        // At least the byte at `to`: a character cut just before it is then settled.
        let ahead = if came < LOOK_AHEAD_AFTER { 1 } else { came };
        let end = (to + ahead).min(base + buf.len() as u64);
        let from = (self.checked_to - base) as usize;
        self.check(&buf[from..(end - base) as usize], self.checked_to);
        self.checked_to = end;
    }

    /// Checks `bytes`, which start at input offset `offset`, after the pending ones.
    fn check(&mut self, mut bytes: &[u8], mut offset: u64) {
        if self.len > 0 {
            let width = match self.pending[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let pending_at = offset - self.len as u64;
            let take = (width - self.len).min(bytes.len());
            self.pending[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            offset += take as u64;
            // A byte that cannot continue the character makes it bad now, however many bytes
            // it was to have: waiting for the rest would move the refusal past its token.
            let sequence = self.pending;
            match std::str::from_utf8(&sequence[..self.len]) {
                Ok(_) => self.len = 0,
                Err(e) if e.error_len().is_none() => return,
                Err(e) => {
                    self.bad = Some(BadBytes::of(&sequence[..self.len], e, pending_at));
                    self.len = 0;
                    return;
                }
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                let tail = &bytes[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.len = tail.len();
            }
            Err(e) => self.bad = Some(BadBytes::of(bytes, e, offset)),
        }
    }

    /// The input ended at `end`: a character still cut is not UTF-8.
    pub(super) fn finish(&mut self, end: u64) {
        if self.bad.is_none() && self.len > 0 {
            self.bad = Some(BadBytes {
                at: end - self.len as u64,
                len: self.len,
                truncated: true,
            });
        }
    }

    /// The refusal of the token from `token_start` to `token_end` (`at` in the buffer), if it
    /// holds the bad bytes.
    pub(super) fn refusal(
        &self,
        token_start: u64,
        token_end: u64,
        at: usize,
    ) -> Option<SkipFailure> {
        let bad = self.bad.filter(|bad| bad.at < token_end)?;
        Some(SkipFailure::Encoding {
            message: bad.message(token_start, token_end),
            at,
        })
    }
}
