//! Whole tables read and written as plain values, for moving a history between stores.

use postgres::types::ToSql;

use super::{PostgresStore, Queries};
use crate::history::migrate::{Cell, Kind, Table};
use crate::history::HistoryError;

/// A cell as a parameter of its column's type (a NULL too is typed).
fn parameter(cell: &Cell, kind: Kind) -> Box<dyn ToSql + Sync> {
    match (cell, kind) {
        (Cell::Null, Kind::Int) => Box::new(None::<i64>),
        (Cell::Null, Kind::Text) => Box::new(None::<String>),
        (Cell::Null, Kind::Bool) => Box::new(None::<bool>),
        (Cell::Int(n), Kind::Bool) => Box::new(*n != 0),
        (Cell::Int(n), Kind::Text) => Box::new(n.to_string()),
        (Cell::Int(n), Kind::Int) => Box::new(*n),
        (Cell::Bool(flag), Kind::Int) => Box::new(i64::from(*flag)),
        (Cell::Bool(flag), _) => Box::new(*flag),
        (Cell::Text(text), Kind::Int) => Box::new(text.parse::<i64>().ok()),
        (Cell::Text(text), _) => Box::new(text.clone()),
    }
}

impl PostgresStore {
    pub fn count_rows(&self, table: &Table) -> Result<i64, HistoryError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name);
        self.run(|client| Ok(client.query_one(&sql, &[])?.get(0)))
    }

    pub fn dump_rows(
        &self,
        table: &Table,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Vec<Cell>>, HistoryError> {
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {} LIMIT $1 OFFSET $2",
            table.column_list(),
            table.name,
            table.order_postgres
        );
        self.run(|client| {
            let rows = client.query(&sql, &[&(limit as i64), &(offset as i64)])?;
            Ok(rows
                .iter()
                .map(|row| {
                    table
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(index, (_, kind))| match kind {
                            Kind::Int => row
                                .get::<_, Option<i64>>(index)
                                .map_or(Cell::Null, Cell::Int),
                            Kind::Text => row
                                .get::<_, Option<String>>(index)
                                .map_or(Cell::Null, Cell::Text),
                            Kind::Bool => row
                                .get::<_, Option<bool>>(index)
                                .map_or(Cell::Null, Cell::Bool),
                        })
                        .collect()
                })
                .collect())
        })
    }

    pub fn begin_import(&self) -> Result<(), HistoryError> {
        self.run(|client| Ok(client.batch_execute("BEGIN")?))
    }

    pub fn end_import(&self, commit: bool) -> Result<(), HistoryError> {
        self.run(|client| Ok(client.batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })?))
    }

    pub fn load_rows(&self, table: &Table, rows: &[Vec<Cell>]) -> Result<(), HistoryError> {
        let placeholders = (1..=table.columns.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            table.name,
            table.column_list()
        );
        self.run(|client| {
            for row in rows {
                let parameters: Vec<Box<dyn ToSql + Sync>> = row
                    .iter()
                    .zip(table.columns)
                    .map(|(cell, (_, kind))| parameter(cell, *kind))
                    .collect();
                let references: Vec<&(dyn ToSql + Sync)> =
                    parameters.iter().map(|p| p.as_ref()).collect();
                client.execute(&sql, &references)?;
            }
            Ok(())
        })
    }

    /// Sequences continue after the largest copied id, so new rows follow the old ones.
    pub fn continue_sequences(&self) -> Result<(), HistoryError> {
        self.run(|client| {
            for table in super::super::migrate::TABLES.iter().filter(|t| t.has_id_sequence) {
                client.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                        table.name
                    ),
                    &[],
                )?;
            }
            Ok(())
        })
    }
}
