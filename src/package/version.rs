//! `SolutionVersion`: the dotted version numbers Dataverse stamps on solutions and exports.
//!
//! Real manifests use 2, 3 or 4 parts (`1.14`, `1.70.1`, `1.0.0.40`), and some parts are large
//! (`1.21111.1`) or zero-padded (`8.2.0000.0725`). Parts compare numerically and missing parts
//! count as zero, so `1.9 < 1.14`, `1.97 < 1.992` and `1.2 == 1.2.0.0`. The original text is kept
//! for display.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// The most parts a solution version may have (`major.minor.build.revision`).
pub const MAX_VERSION_PARTS: usize = 4;

/// Why a text is not a solution version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("version is empty")]
    Empty,
    #[error("version '{text}' has {parts} parts; a solution version has 2 to 4 (major.minor[.build[.revision]])")]
    PartCount { text: String, parts: usize },
    #[error("version '{text}' has a part '{part}' that is not a non-negative whole number")]
    NotANumber { text: String, part: String },
    #[error("version '{text}' has a part '{part}' larger than {max}", max = u32::MAX)]
    TooLarge { text: String, part: String },
}

/// A comparable solution version with its text as written.
#[derive(Debug, Clone)]
pub struct SolutionVersion {
    parts: [u32; MAX_VERSION_PARTS],
    part_count: usize,
    text: String,
}

impl SolutionVersion {
    /// Parses `major.minor[.build[.revision]]`; surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(VersionError::Empty);
        }
        let pieces: Vec<&str> = trimmed.split('.').collect();
        if !(2..=MAX_VERSION_PARTS).contains(&pieces.len()) {
            return Err(VersionError::PartCount {
                text: trimmed.to_owned(),
                parts: pieces.len(),
            });
        }
        let mut parts = [0u32; MAX_VERSION_PARTS];
        for (slot, piece) in parts.iter_mut().zip(&pieces) {
            if piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::NotANumber {
                    text: trimmed.to_owned(),
                    part: (*piece).to_owned(),
                });
            }
            *slot = piece.parse().map_err(|_| VersionError::TooLarge {
                text: trimmed.to_owned(),
                part: (*piece).to_owned(),
            })?;
        }
        Ok(Self {
            parts,
            part_count: pieces.len(),
            text: trimmed.to_owned(),
        })
    }

    /// The four numeric parts, missing ones as zero.
    pub fn parts(&self) -> [u32; MAX_VERSION_PARTS] {
        self.parts
    }

    /// How many parts the text had (2 to 4).
    pub fn part_count(&self) -> usize {
        self.part_count
    }

    pub fn major(&self) -> u32 {
        self.parts[0]
    }

    pub fn minor(&self) -> u32 {
        self.parts[1]
    }

    pub fn build(&self) -> u32 {
        self.parts[2]
    }

    pub fn revision(&self) -> u32 {
        self.parts[3]
    }

    /// The text as written in the manifest (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The version with all four parts and no padding, e.g. `1.2.0.0`.
    pub fn normalized(&self) -> String {
        let [a, b, c, d] = self.parts;
        format!("{a}.{b}.{c}.{d}")
    }
}

impl FromStr for SolutionVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl PartialEq for SolutionVersion {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Eq for SolutionVersion {}

impl Hash for SolutionVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts.hash(state);
    }
}

impl PartialOrd for SolutionVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SolutionVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts)
    }
}

impl fmt::Display for SolutionVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for SolutionVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> SolutionVersion {
        SolutionVersion::parse(text).expect("valid version")
    }

    #[test]
    fn compares_parts_numerically_not_as_text() {
        assert!(v("1.9") < v("1.14"));
        assert!(v("1.97") < v("1.992"));
        assert!(v("1.0.0.40") < v("1.0.0.42"));
        assert!(v("1.0.0.7") < v("1.2"));
        assert!(v("1.70") < v("1.70.1"));
        assert!(v("1.21111.1") < v("1.22033.1"));
    }

    #[test]
    fn missing_parts_count_as_zero_but_text_is_kept() {
        assert_eq!(v("1.2"), v("1.2.0.0"));
        assert_eq!(v("1.2").to_string(), "1.2");
        assert_eq!(v("1.2").normalized(), "1.2.0.0");
        assert_eq!(v("1.2").part_count(), 2);
    }

    #[test]
    fn zero_padded_export_versions_parse() {
        let version = v("8.2.0000.0725");
        assert_eq!(version.parts(), [8, 2, 0, 725]);
        assert_eq!(version.as_str(), "8.2.0000.0725");
    }

    #[test]
    fn rejects_what_is_not_a_solution_version() {
        for bad in [
            "",
            "1",
            "1.2.3.4.5",
            "-1.0",
            "1.x",
            "1..2",
            "1.2.",
            " . ",
            "1.2-beta",
            "+1.2",
        ] {
            assert!(
                SolutionVersion::parse(bad).is_err(),
                "{bad:?} should be invalid"
            );
        }
        assert!(matches!(
            SolutionVersion::parse("99999999999.0"),
            Err(VersionError::TooLarge { .. })
        ));
        assert!(matches!(
            SolutionVersion::parse("1.2.3.4.5"),
            Err(VersionError::PartCount { parts: 5, .. })
        ));
    }
}
