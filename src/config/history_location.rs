//! Where a history database lives: a path selects SQLite (the embedded default, one file on a
//! local disk), a `postgres://` or `postgresql://` URL selects PostgreSQL (shared by several
//! daemons). The URL may hold a password; it is never shown: every display of a location
//! masks it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::Secret;

/// A history database by location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryLocation {
    /// An SQLite file (`:memory:` for a database that lives only as long as the process).
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PostgresUrl),
}

/// A PostgreSQL connection URL; the password in it (if any) is kept secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    url: Secret,
    /// The URL with its password masked, for messages.
    shown: String,
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PostgresUrl").field(&self.shown).finish()
    }
}

impl PostgresUrl {
    /// The whole URL, password included: only for connecting.
    pub fn expose(&self) -> &str {
        self.url.expose()
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Why a history location is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown}: not a valid PostgreSQL URL: {reason}")]
pub struct LocationError {
    shown: String,
    reason: String,
}

/// Whether `text` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(text: &str) -> bool {
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `text` with the password of a URL's user info and any `password=` parameter masked.
fn masked(text: &str) -> String {
    let mut shown = text.to_owned();
    if let Some(scheme_end) = shown.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = shown[authority_start..]
            .find(['/', '?'])
            .map_or(shown.len(), |i| authority_start + i);
        if let Some(at) = shown[authority_start..authority_end].rfind('@') {
            let user_info = &shown[authority_start..authority_start + at];
            if let Some(colon) = user_info.find(':') {
                let from = authority_start + colon + 1;
                shown.replace_range(from..authority_start + at, "***");
            }
        }
    }
    if let Some(query) = shown.find('?') {
        let (head, params) = shown.split_at(query + 1);
        let params: Vec<String> = params
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        shown = format!("{head}{}", params.join("&"));
    }
    shown
}

impl PostgresUrl {
    /// Checks `text` is a URL the PostgreSQL client accepts (without connecting).
    pub fn parse(text: &str) -> Result<Self, LocationError> {
        // Schemes are case-insensitive; the client takes them in lower case only.
        let text = &match text.find("://") {
            Some(end) => format!("{}{}", text[..end].to_ascii_lowercase(), &text[end..]),
            None => text.to_owned(),
        };
        let shown = masked(text);
        match postgres::Config::from_str(text) {
            Ok(_) => Ok(Self {
                url: Secret::new(text.to_owned()),
                shown,
            }),
            // The client's message may quote the URL; only the masked form is shown.
            Err(error) => Err(LocationError {
                reason: masked(&error.to_string()).replace(text, &shown),
                shown,
            }),
        }
    }
}

impl HistoryLocation {
    /// The location `text` names; a relative file path is taken relative to `base`.
    pub fn parse_in(text: &str, base: &Path) -> Result<Self, LocationError> {
        if is_postgres_url(text) {
            return PostgresUrl::parse(text).map(Self::Postgres);
        }
        let path = Path::new(text);
        Ok(Self::Sqlite(if path.is_absolute() || text == ":memory:" {
            path.to_path_buf()
        } else {
            base.join(path)
        }))
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(path) => Some(path),
            Self::Postgres(_) => None,
        }
    }

    /// Whether several daemons may share it (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

impl FromStr for HistoryLocation {
    type Err = LocationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_in(text, Path::new(""))
    }
}

impl From<&Path> for HistoryLocation {
    fn from(path: &Path) -> Self {
        Self::Sqlite(path.to_path_buf())
    }
}

impl From<PathBuf> for HistoryLocation {
    fn from(path: PathBuf) -> Self {
        Self::Sqlite(path)
    }
}

impl fmt::Display for HistoryLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => url.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url =
            "postgres://solguard:s3cret@db.example:5432/solguard?sslmode=require&password=other";
        let location: HistoryLocation = url.parse().expect("valid");
        let shown = location.to_string();
        assert_eq!(
            shown,
            "postgres://solguard:***@db.example:5432/solguard?sslmode=require&password=***"
        );
        assert!(!format!("{location:?}").contains("s3cret"));
        let bad = "postgresql://u:s3cret@h/db?sslmode=sometimes"
            .parse::<HistoryLocation>()
            .expect_err("bad sslmode");
        assert!(!bad.to_string().contains("s3cret"), "{bad}");
    }

    #[test]
    fn paths_select_sqlite_relative_to_the_base() {
        let location =
            HistoryLocation::parse_in("state/h.db", Path::new("/etc/solguard")).expect("a path");
        assert_eq!(
            location.sqlite_path(),
            Some(Path::new("/etc/solguard/state/h.db"))
        );
        assert!(!location.is_shared());
        assert!("POSTGRESQL://h/db"
            .parse::<HistoryLocation>()
            .expect("url")
            .is_shared());
    }
}
