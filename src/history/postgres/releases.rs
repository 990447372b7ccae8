//! Releases in PostgreSQL: recorded with their model snapshot, read back as the lineage needs
//! them. Unique names compare case-insensitively, as Dataverse compares them.

use postgres::types::ToSql;

use super::{Failure, PostgresStore, Queries};
use crate::assessment::Assessment;
use crate::history::rows::{
    snapshot_package, AcceptedRow, ReleaseRow, ReleaseText, ACCEPTED_COLUMNS, RELEASE_COLUMNS,
};
use crate::history::{AcceptedRelease, HistoryError};
use crate::package::Package;

/// Inserts a release on `client` (a transaction of the caller's, or the connection).
pub(super) fn insert_release(
    client: &mut impl Queries,
    assessment: &Assessment,
    package: &Package,
) -> Result<(), Failure> {
    let text = ReleaseText::of(assessment, package)?;
    client.execute(
        "INSERT INTO releases (sha256, path, unique_name, version, publisher, managed, verdict, accepted, findings, checked_at, policy_set, snapshot, patch_of, exported_at, previous_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &assessment.sha256,
            &assessment.path.display().to_string(),
            &package.unique_name,
            &package.version,
            &package.publisher.unique_name,
            &package.managed.as_str(),
            &assessment.verdict.as_str(),
            &assessment.accepted,
            &text.findings,
            &text.checked_at,
            &assessment.policy_set,
            &text.snapshot,
            &assessment.patch_of,
            &text.exported_at,
            &assessment.previous_version,
        ],
    )?;
    Ok(())
}

impl PostgresStore {
    pub fn record(&self, assessment: &Assessment, package: &Package) -> Result<(), HistoryError> {
        self.run(|client| insert_release(client, assessment, package))
    }

    fn snapshot(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Package>, HistoryError> {
        self.run(|client| {
            let row = client.query_opt(sql, params)?;
            Ok(row
                .map(|row| snapshot_package(row.get::<_, &str>(0)))
                .transpose()?)
        })
    }

    pub fn last_accepted(&self, unique_name: &str) -> Result<Option<Package>, HistoryError> {
        self.snapshot(
            "SELECT snapshot FROM releases WHERE lower(unique_name) = lower($1) AND accepted ORDER BY id DESC LIMIT 1",
            &[&unique_name],
        )
    }

    pub fn release(
        &self,
        unique_name: &str,
        version: &str,
    ) -> Result<Option<Package>, HistoryError> {
        self.snapshot(
            "SELECT snapshot FROM releases WHERE lower(unique_name) = lower($1) AND version = $2 ORDER BY id DESC LIMIT 1",
            &[&unique_name, &version],
        )
    }

    pub fn snapshot_of(&self, id: i64) -> Result<Option<Package>, HistoryError> {
        self.snapshot("SELECT snapshot FROM releases WHERE id = $1", &[&id])
    }

    pub fn accepted_releases(
        &self,
        unique_name: &str,
    ) -> Result<Vec<AcceptedRelease>, HistoryError> {
        self.accepted_where("lower(unique_name) = lower($1)", unique_name)
    }

    pub fn accepted_patches_of(&self, parent: &str) -> Result<Vec<AcceptedRelease>, HistoryError> {
        self.accepted_where("lower(patch_of) = lower($1)", parent)
    }

    fn accepted_where(
        &self,
        condition: &str,
        name: &str,
    ) -> Result<Vec<AcceptedRelease>, HistoryError> {
        let sql = format!(
            "SELECT {ACCEPTED_COLUMNS} FROM releases WHERE {condition} AND accepted ORDER BY id"
        );
        self.run(|client| {
            let rows = client.query(&sql, &[&name])?;
            Ok(rows
                .iter()
                .map(|row| {
                    AcceptedRelease::from(AcceptedRow {
                        id: row.get(0),
                        unique_name: row.get(1),
                        version: row.get(2),
                        publisher: row.get(3),
                        managed: row.get(4),
                        sha256: row.get(5),
                        checked_at: row.get(6),
                        exported_at: row.get(7),
                        patch_of: row.get(8),
                    })
                })
                .collect())
        })
    }

    pub fn releases(&self, unique_name: Option<&str>) -> Result<Vec<Assessment>, HistoryError> {
        let sql = format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE $1::TEXT IS NULL OR lower(unique_name) = lower($1) ORDER BY lower(unique_name), id"
        );
        self.run(|client| {
            let rows = client.query(&sql, &[&unique_name])?;
            let mut records = Vec::with_capacity(rows.len());
            for row in rows {
                let row = ReleaseRow {
                    sha256: row.get(0),
                    path: row.get(1),
                    unique_name: row.get(2),
                    version: row.get(3),
                    publisher: row.get(4),
                    managed: row.get(5),
                    verdict: row.get(6),
                    accepted: row.get(7),
                    findings: row.get(8),
                    checked_at: row.get(9),
                    policy_set: row.get(10),
                    exported_at: row.get(11),
                    patch_of: row.get(12),
                    previous_version: row.get(13),
                };
                records.push(row.into_assessment()?);
            }
            Ok(records)
        })
    }
}
