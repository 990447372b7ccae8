//! Inflates a large zip entry on a second thread while this one tokenizes it.
//!
//! Inflating and CRC-checking are a fifth of the work of reading a large `customizations.xml`;
//! on a machine with a spare core they overlap with parsing instead of adding to it. The
//! inflating thread hands over big chunks through a bounded channel (so memory stays a few
//! chunks whatever the entry's size) and gets them back for reuse. Its errors, including the
//! zip-bomb guards, reach the parser unchanged at the point in the stream where they occurred.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::Scope;

const CHUNK_BYTES: usize = 256 << 10;
const CHUNKS_IN_FLIGHT: usize = 4;

/// The parser's end of the pipe: reads chunks in order, then the end of the entry or its error.
pub(crate) struct PipeReader {
    chunks: Receiver<io::Result<Vec<u8>>>,
    spare: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

/// Starts inflating `source` on a thread of `scope`; the thread ends at the end of the entry,
/// at its first error, or as soon as the returned reader is dropped.
pub(crate) fn spawn<'scope, R>(scope: &'scope Scope<'scope, '_>, mut source: R) -> PipeReader
where
    R: Read + Send + 'scope,
{
    let (chunk_sender, chunks) = sync_channel(CHUNKS_IN_FLIGHT);
    let (spare, spare_chunks) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT + 2);
    scope.spawn(move || loop {
        let mut chunk = spare_chunks
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK_BYTES));
        chunk.resize(CHUNK_BYTES, 0);
        let (n, error) = fill(&mut source, &mut chunk);
        chunk.truncate(n);
        // The bytes read before an error go first, so the parser fails where the error was.
        if n > 0 && chunk_sender.send(Ok(chunk)).is_err() {
            return;
        }
        match error {
            Some(error) => {
                let _ = chunk_sender.send(Err(error));
                return;
            }
            None if n < CHUNK_BYTES => return,
            None => {}
        }
    });
    PipeReader {
        chunks,
        spare,
        current: Vec::new(),
        pos: 0,
    }
}

/// Reads until `chunk` is full, the source ends or fails: the bytes read, and the failure.
fn fill(source: &mut impl Read, chunk: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    while filled < chunk.len() {
        match source.read(&mut chunk[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return (filled, Some(error)),
        }
    }
    (filled, None)
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.current.len() {
            let next = match self.chunks.recv() {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(error)) => return Err(error),
                // The inflating thread ended without an error: the entry is complete.
                Err(_) => return Ok(0),
            };
            let used = std::mem::replace(&mut self.current, next);
            // A full spare channel only means the thread allocates a fresh chunk.
            let _ = self.spare.try_send(used);
            self.pos = 0;
        }
        let available = &self.current[self.pos..];
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing {
        good: usize,
    }

    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.good == 0 {
                return Err(io::Error::other("inflate failed"));
            }
            let n = self.good.min(out.len()).min(1000);
            out[..n].fill(b'x');
            self.good -= n;
            Ok(n)
        }
    }

    #[test]
    fn bytes_arrive_in_order_and_complete() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut received = Vec::new();
        std::thread::scope(|scope| {
            let mut pipe = spawn(scope, &data[..]);
            pipe.read_to_end(&mut received).expect("reads");
        });
        assert_eq!(received, data);
    }

    #[test]
    fn an_error_arrives_after_the_bytes_before_it() {
        std::thread::scope(|scope| {
            let mut pipe = spawn(scope, Failing { good: 600_000 });
            let mut received = Vec::new();
            let error = pipe.read_to_end(&mut received).expect_err("fails");
            assert_eq!(error.to_string(), "inflate failed");
            assert_eq!(received.len(), 600_000, "every byte before the error");
        });
    }

    #[test]
    fn dropping_the_reader_stops_the_thread() {
        let endless = io::repeat(b'a');
        std::thread::scope(|scope| {
            let mut pipe = spawn(scope, endless);
            let mut first = [0u8; 10];
            pipe.read_exact(&mut first).expect("reads");
            drop(pipe);
        });
    }
}
