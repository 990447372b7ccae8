//! The `file` sink: one JSON object per line, appended and synced; past `max_bytes` the file is
//! rotated to `.1`, `.1` to `.2`, and so on up to `keep` old files.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use super::{AlertError, DeliveryError};

#[derive(Debug, Clone)]
pub struct FileSink {
    pub name: String,
    pub path: PathBuf,
    pub max_bytes: u64,
    pub keep: u32,
}

/// Where the last whole line of the file at `path` (of `len` bytes) ends: `len` when the file
/// is empty or ends with a newline, else just after the last newline.
fn whole_lines_end(path: &std::path::Path, len: u64) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    if len == 0 {
        return Ok(0);
    }
    let mut file = std::fs::File::open(path)?;
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(len);
    }
    // Scan back in pieces for the newline that ends the last whole line.
    let mut end = len;
    let mut piece = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(piece.len() as u64);
        let size = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut piece[..size])?;
        if let Some(at) = piece[..size].iter().rposition(|b| *b == b'\n') {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

impl FileSink {
    /// Appends one alert (already JSON, on one line).
    pub fn deliver(&self, json_line: &str) -> Result<(), AlertError> {
        self.append(json_line)
            .map_err(|source| AlertError::Delivery {
                sink: self.name.clone(),
                source: DeliveryError::File {
                    path: self.path.clone(),
                    source,
                },
            })
    }

    fn append(&self, json_line: &str) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        if size > 0 && size + json_line.len() as u64 + 1 > self.max_bytes {
            self.rotate()?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // A line from a crash or a full disk before: cut back to the last whole line, so
        // every line of the file stays one JSON object.
        let mut end = file.metadata()?.len();
        let whole = whole_lines_end(&self.path, end)?;
        if whole < end {
            file.set_len(whole)?;
            end = whole;
        }
        let mut line = Vec::with_capacity(json_line.len() + 1);
        line.extend_from_slice(json_line.as_bytes());
        line.push(b'\n');
        // One write per line; on a failure (a full disk) the partial line is cut off again.
        if let Err(error) = file.write_all(&line).and_then(|()| file.sync_data()) {
            let _truncated = file.set_len(end);
            return Err(error);
        }
        Ok(())
    }

    fn rotated(&self, index: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{index}"));
        PathBuf::from(name)
    }

    fn rotate(&self) -> std::io::Result<()> {
        if self.keep == 0 {
            return std::fs::remove_file(&self.path);
        }
        for index in (1..self.keep).rev() {
            let from = self.rotated(index);
            if from.exists() {
                std::fs::rename(&from, self.rotated(index + 1))?;
            }
        }
        std::fs::rename(&self.path, self.rotated(1))
    }
}
