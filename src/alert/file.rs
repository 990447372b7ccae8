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
        let mut line = Vec::with_capacity(json_line.len() + 1);
        line.extend_from_slice(json_line.as_bytes());
        line.push(b'\n');
        file.write_all(&line)?;
        file.sync_data()
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
