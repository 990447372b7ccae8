//! The byte source under the tokenizer and the skip scanner: a buffered reader that counts
//! lines lazily (newlines are counted only when a line is asked for, in the bytes gone by since)
//! and bounds the bytes between two marks, so no single token can grow without end.

use std::cell::Cell;
use std::io::{self, BufRead, Read};

/// A buffered reader that counts lines lazily and bounds the bytes between two marks.
pub(super) struct LineTracker<R> {
    pub(super) inner: R,
    pub(super) buf: Box<[u8]>,
    pub(super) pos: usize,
    pub(super) filled: usize,
    /// Bytes consumed before `buf[0]`.
    pub(super) base: u64,
    /// `buf[..counted]` has been scanned for newlines.
    pub(super) counted: Cell<usize>,
    pub(super) newlines: Cell<u64>,
    /// Offset just after the last newline counted (start of the current line).
    pub(super) line_start: Cell<u64>,
    /// Offset of the last mark (the start of the current token).
    pub(super) mark_offset: u64,
    pub(super) max_token_bytes: usize,
}

impl<R: Read> LineTracker<R> {
    pub(super) fn count_to(&self, end: usize) {
        let from = self.counted.get();
        if end > from {
            let scanned = &self.buf[from..end];
            let newlines = memchr::memchr_iter(b'\n', scanned).count() as u64;
            if newlines > 0 {
                self.newlines.set(self.newlines.get() + newlines);
                if let Some(last) = memchr::memrchr(b'\n', scanned) {
                    self.line_start.set(self.base + (from + last) as u64 + 1);
                }
            }
            self.counted.set(end);
        }
    }

    pub(super) fn line(&self) -> u64 {
        self.count_to(self.pos);
        self.newlines.get() + 1
    }

    pub(super) fn column(&self) -> u64 {
        self.count_to(self.pos);
        self.base + self.pos as u64 - self.line_start.get() + 1
    }

    pub(super) fn mark(&mut self) {
        self.mark_offset = self.base + self.pos as u64;
    }

    /// Derived from offsets so that the tokenizer's hot `consume` calls stay a single add.
    pub(super) fn token_overflow(&self) -> bool {
        self.base + self.pos as u64 - self.mark_offset > self.max_token_bytes as u64
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> LineTracker<R> {
    #[cold]
    #[inline(never)]
    pub(super) fn refill(&mut self) -> io::Result<()> {
        if self.token_overflow() {
            return Err(io::Error::other(TokenTooLarge));
        }
        self.count_to(self.filled);
        self.base += self.filled as u64;
        self.pos = 0;
        self.filled = 0;
        self.counted.set(0);
        self.filled = loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        Ok(())
    }
}

impl<R: Read> BufRead for LineTracker<R> {
    // A token inside one buffer is bounded by the buffer; the token limit is checked when the
    // buffer is refilled (a token spanning buffers) and after every event.
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.refill()?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    #[inline]
    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.filled);
    }
}

#[derive(Debug)]
pub(super) struct TokenTooLarge;

impl std::fmt::Display for TokenTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("token too large")
    }
}

impl std::error::Error for TokenTooLarge {}
