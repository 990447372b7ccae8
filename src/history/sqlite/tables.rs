//! Whole tables read and written as plain values, for moving a history between stores.

use rusqlite::types::{Value, ValueRef};

use super::SqliteStore;
use crate::history::migrate::{Cell, Kind, Table};
use crate::history::HistoryError;

impl SqliteStore {
    pub fn count_rows(&self, table: &Table) -> Result<i64, HistoryError> {
        self.conn
            .query_row(&format!("SELECT COUNT(*) FROM {}", table.name), [], |row| {
                row.get(0)
            })
            .map_err(|e| self.sqlite(e))
    }

    pub fn dump_rows(
        &self,
        table: &Table,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Vec<Cell>>, HistoryError> {
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {} LIMIT ?1 OFFSET ?2",
            table.column_list(),
            table.name,
            table.order_sqlite
        );
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([limit as i64, offset as i64], |row| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(index, (_, kind))| {
                        Ok(match (row.get_ref(index)?, kind) {
                            (ValueRef::Null, _) => Cell::Null,
                            (ValueRef::Integer(n), Kind::Bool) => Cell::Bool(n != 0),
                            (ValueRef::Integer(n), _) => Cell::Int(n),
                            (ValueRef::Real(x), _) => Cell::Int(x as i64),
                            (ValueRef::Text(bytes) | ValueRef::Blob(bytes), _) => {
                                Cell::Text(String::from_utf8_lossy(bytes).into_owned())
                            }
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Cell>>>()
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    pub fn begin_import(&self) -> Result<(), HistoryError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.sqlite(e))
    }

    pub fn end_import(&self, commit: bool) -> Result<(), HistoryError> {
        self.conn
            .execute_batch(if commit { "COMMIT" } else { "ROLLBACK" })
            .map_err(|e| self.sqlite(e))
    }

    pub fn load_rows(&self, table: &Table, rows: &[Vec<Cell>]) -> Result<(), HistoryError> {
        let placeholders = (1..=table.columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            table.name,
            table.column_list()
        );
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.sqlite(e))?;
        for row in rows {
            let values = row.iter().map(|cell| match cell {
                Cell::Null => Value::Null,
                Cell::Int(n) => Value::Integer(*n),
                Cell::Bool(flag) => Value::Integer(i64::from(*flag)),
                Cell::Text(text) => Value::Text(text.clone()),
            });
            statement
                .execute(rusqlite::params_from_iter(values))
                .map_err(|e| self.sqlite(e))?;
        }
        Ok(())
    }

    /// SQLite's `INTEGER PRIMARY KEY` continues after the largest id by itself.
    pub fn continue_sequences(&self) -> Result<(), HistoryError> {
        Ok(())
    }
}
