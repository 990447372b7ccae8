//! Moving a history from one store to another (`solguard history migrate`), typically an
//! SQLite file into PostgreSQL when a second daemon joins: every row of every table that holds
//! history (releases in their order, processed packages, the outbox, audit caches and
//! baselines) is copied in one transaction on the target, then counted on both sides. Claims
//! and heartbeats are not history and are not copied.

use super::{HistoryError, HistoryStore};

/// How a column's values are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Text,
    Bool,
}

/// One value of a row being copied.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

/// A table copied, with its columns and the order its rows are read in.
pub(super) struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// `ORDER BY` on SQLite and on PostgreSQL (a unique order, so pages never overlap).
    pub order_sqlite: &'static str,
    pub order_postgres: &'static str,
    /// Whether its `id` comes from a sequence that must continue after the copied ids.
    pub has_id_sequence: bool,
}

impl Table {
    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Kind::{Bool, Int, Text};

pub(super) const TABLES: &[Table] = &[
    Table {
        name: "releases",
        columns: &[
            ("id", Int),
            ("sha256", Text),
            ("path", Text),
            ("unique_name", Text),
            ("version", Text),
            ("publisher", Text),
            ("managed", Text),
            ("verdict", Text),
            ("accepted", Bool),
            ("findings", Text),
            ("checked_at", Text),
            ("policy_set", Text),
            ("snapshot", Text),
            ("patch_of", Text),
            ("exported_at", Text),
            ("previous_version", Text),
        ],
        order_sqlite: "id",
        order_postgres: "id",
        has_id_sequence: true,
    },
    Table {
        name: "processed",
        columns: &[
            ("sha256", Text),
            ("path", Text),
            ("unique_name", Text),
            ("version", Text),
            ("verdict", Text),
            ("accepted", Bool),
            ("policy_set", Text),
            ("reports", Text),
            ("processed_at", Text),
            ("previous_version", Text),
            ("managed", Text),
            ("watch", Text),
            ("daemon", Text),
        ],
        order_sqlite: "rowid",
        order_postgres: "seq",
        has_id_sequence: false,
    },
    Table {
        name: "outbox",
        columns: &[
            ("id", Int),
            ("sink", Text),
            ("idempotency_key", Text),
            ("payload", Text),
            ("created_at", Text),
            ("created_ms", Int),
            ("attempts", Int),
            ("next_attempt_ms", Int),
            ("delivered_at", Text),
            ("dead_at", Text),
            ("last_error", Text),
        ],
        order_sqlite: "id",
        order_postgres: "id",
        has_id_sequence: true,
    },
    Table {
        name: "audit_files",
        columns: &[
            ("path", Text),
            ("size", Int),
            ("modified_ns", Int),
            ("sha256", Text),
        ],
        order_sqlite: "path",
        order_postgres: "path",
        has_id_sequence: false,
    },
    Table {
        name: "parsed",
        columns: &[("sha256", Text), ("outcome", Text)],
        order_sqlite: "sha256",
        order_postgres: "sha256",
        has_id_sequence: false,
    },
    Table {
        name: "audit_baselines",
        columns: &[("repository", Text), ("finding_key", Text)],
        order_sqlite: "repository, finding_key",
        order_postgres: "repository, finding_key",
        has_id_sequence: false,
    },
];

/// Rows copied per read from the source.
const PAGE: usize = 500;

/// How many rows of one table were copied (and are now on both sides).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationCount {
    pub table: &'static str,
    pub rows: i64,
}

/// Copies every history row of `from` into `to`, which must hold no history yet. Nothing is
/// kept on the target unless all of it was copied and the counts agree.
pub fn migrate(
    from: &HistoryStore,
    to: &HistoryStore,
) -> Result<Vec<MigrationCount>, HistoryError> {
    let refuse = |detail: String| HistoryError::Migration {
        location: to.location().to_string(),
        detail,
    };
    for table in TABLES {
        let rows = to.count_rows(table)?;
        if rows > 0 {
            return Err(refuse(format!(
                "the target already holds {rows} rows in {}; migrate into a new, empty database",
                table.name
            )));
        }
    }
    to.begin_import()?;
    let copied = copy_all(from, to);
    let counts = match copied {
        Ok(counts) => counts,
        Err(error) => {
            // The copy failed: the target is left as it was.
            let _ = to.end_import(false);
            return Err(error);
        }
    };
    to.end_import(true)?;
    for count in &counts {
        let table = TABLES.iter().find(|t| t.name == count.table);
        let on_target = match table {
            Some(table) => to.count_rows(table)?,
            None => 0,
        };
        if on_target != count.rows {
            return Err(refuse(format!(
                "{}: {} rows copied but {on_target} on the target",
                count.table, count.rows
            )));
        }
    }
    Ok(counts)
}

fn copy_all(from: &HistoryStore, to: &HistoryStore) -> Result<Vec<MigrationCount>, HistoryError> {
    let mut counts = Vec::new();
    for table in TABLES {
        let mut copied = 0i64;
        loop {
            let page = from.dump_rows(table, copied as usize, PAGE)?;
            if page.is_empty() {
                break;
            }
            copied += page.len() as i64;
            to.load_rows(table, &page)?;
        }
        let expected = from.count_rows(table)?;
        if expected != copied {
            return Err(HistoryError::Migration {
                location: from.location().to_string(),
                detail: format!(
                    "{}: {copied} rows read but {expected} counted (was it written to meanwhile?)",
                    table.name
                ),
            });
        }
        counts.push(MigrationCount {
            table: table.name,
            rows: copied,
        });
    }
    to.continue_sequences()?;
    Ok(counts)
}
