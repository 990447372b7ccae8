//! The PostgreSQL backend, for several daemons sharing one history. One connection per store,
//! opened on first use and opened again after it breaks (a server restart, a network cut):
//! an operation on a broken connection fails as *unavailable* and the next one reconnects, so
//! the daemon pauses while the server is away and resumes by itself. The schema is versioned
//! in `solguard_schema`; migrations run under an advisory lock, so daemons starting together
//! migrate once.

mod audit;
mod fleet;
mod outbox;
mod processed;
mod releases;
mod tables;
mod tls;

use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement, Transaction};

use crate::config::PostgresUrl;
use crate::history::HistoryError;

/// Schema migrations, applied in order; index + 1 is the schema version they produce. The
/// tables are those of the SQLite backend, in PostgreSQL's types.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE releases (
    id               BIGSERIAL PRIMARY KEY,
    sha256           TEXT,
    path             TEXT NOT NULL,
    unique_name      TEXT NOT NULL,
    version          TEXT NOT NULL,
    publisher        TEXT NOT NULL,
    managed          TEXT NOT NULL,
    verdict          TEXT NOT NULL,
    accepted         BOOLEAN NOT NULL,
    findings         TEXT NOT NULL,
    checked_at       TEXT NOT NULL,
    policy_set       TEXT NOT NULL,
    snapshot         TEXT NOT NULL,
    patch_of         TEXT,
    exported_at      TEXT,
    previous_version TEXT
);
CREATE INDEX releases_by_name ON releases (lower(unique_name), id);
CREATE INDEX releases_by_sha ON releases (sha256);
CREATE INDEX releases_by_parent ON releases (lower(patch_of), id) WHERE patch_of IS NOT NULL;
CREATE TABLE processed (
    sha256           TEXT PRIMARY KEY,
    path             TEXT NOT NULL,
    unique_name      TEXT,
    version          TEXT,
    verdict          TEXT NOT NULL,
    accepted         BOOLEAN NOT NULL,
    policy_set       TEXT NOT NULL,
    reports          TEXT NOT NULL,
    processed_at     TEXT NOT NULL,
    previous_version TEXT,
    managed          TEXT,
    watch            TEXT,
    daemon           TEXT,
    seq              BIGSERIAL NOT NULL
);
CREATE INDEX processed_recent ON processed (processed_at, seq);
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    sink            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL DEFAULT 0,
    delivered_at    TEXT,
    dead_at         TEXT,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    UNIQUE (sink, idempotency_key)
);
CREATE INDEX outbox_pending ON outbox (sink, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE TABLE audit_files (
    path        TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    modified_ns BIGINT NOT NULL,
    sha256      TEXT NOT NULL
);
CREATE TABLE parsed (
    sha256  TEXT PRIMARY KEY,
    outcome TEXT NOT NULL
);
CREATE TABLE audit_baselines (
    repository  TEXT NOT NULL,
    finding_key TEXT NOT NULL,
    PRIMARY KEY (repository, finding_key)
);
CREATE TABLE leases (
    key        TEXT NOT NULL,
    scope      TEXT NOT NULL,
    owner      TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    done       BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (key, scope)
);
CREATE TABLE daemons (
    name         TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    version      TEXT NOT NULL,
    policy_set   TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
"#];

/// Serializes migrations among daemons that start at once (any constant unique to solguard).
const MIGRATION_LOCK: i64 = 0x736f_6c67_7561_7264;

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an operation failed, before it is named by the store's location.
pub(super) enum Failure {
    Postgres(postgres::Error),
    Json(serde_json::Error),
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Self {
        Self::Postgres(error)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Self {
        Self::Json(error)
    }
}

pub struct PostgresStore {
    url: PostgresUrl,
    client: RefCell<Option<Client>>,
    /// The connection's prepared statements by SQL text (cleared when it reconnects).
    statements: RefCell<HashMap<String, Statement>>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// Statements run on a connection or in a transaction, each SQL text prepared once per
/// connection: a query then costs one round trip to the server, not two.
pub(super) trait Queries {
    fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, postgres::Error>;
    fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, postgres::Error>;
    fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>, postgres::Error>;
    fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, postgres::Error>;
    /// Statements without parameters, sent as they are (not prepared).
    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error>;
}

/// The statement for `sql`, prepared on `client` unless `statements` has it.
fn prepared(
    client: &mut impl GenericClient,
    statements: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, postgres::Error> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql)?;
    statements.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

macro_rules! queries_on {
    ($type:ty) => {
        impl Queries for $type {
            fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, postgres::Error> {
                let (client, statements) = self.parts();
                let statement = prepared(client, statements, sql)?;
                client.execute(&statement, params)
            }
            fn query(
                &mut self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<Vec<Row>, postgres::Error> {
                let (client, statements) = self.parts();
                let statement = prepared(client, statements, sql)?;
                client.query(&statement, params)
            }
            fn query_opt(
                &mut self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<Option<Row>, postgres::Error> {
                let (client, statements) = self.parts();
                let statement = prepared(client, statements, sql)?;
                client.query_opt(&statement, params)
            }
            fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, postgres::Error> {
                let (client, statements) = self.parts();
                let statement = prepared(client, statements, sql)?;
                client.query_one(&statement, params)
            }
            fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
                self.parts().0.batch_execute(sql)
            }
        }
    };
}

/// The connection, as an operation of the store sees it.
pub(super) struct Db<'a> {
    client: &'a mut Client,
    statements: &'a mut HashMap<String, Statement>,
}

/// A transaction on the connection; rolled back unless committed.
pub(super) struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

queries_on!(Db<'_>);
queries_on!(Tx<'_>);

impl Db<'_> {
    fn parts(&mut self) -> (&mut Client, &mut HashMap<String, Statement>) {
        (&mut *self.client, &mut *self.statements)
    }

    pub fn transaction(&mut self) -> Result<Tx<'_>, postgres::Error> {
        Ok(Tx {
            tx: self.client.transaction()?,
            statements: &mut *self.statements,
        })
    }
}

impl<'a> Tx<'a> {
    fn parts(&mut self) -> (&mut Transaction<'a>, &mut HashMap<String, Statement>) {
        (&mut self.tx, &mut *self.statements)
    }

    pub fn commit(self) -> Result<(), postgres::Error> {
        self.tx.commit()
    }
}

/// Whether `error` means the server is out of reach rather than that the statement is wrong.
fn unavailable(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        // Connection exceptions, operator intervention (shutdown, recovery), too many
        // connections.
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        }
        None => {
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                if inner.is::<std::io::Error>() {
                    return true;
                }
                source = inner.source();
            }
            error.to_string().contains("timed out")
        }
    }
}

/// A PostgreSQL error as one line: the server's message when it sent one, else the client's
/// with its causes.
fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

impl PostgresStore {
    pub(in crate::history) fn open(url: &PostgresUrl) -> Result<Self, HistoryError> {
        let store = Self {
            url: url.clone(),
            client: RefCell::new(None),
            statements: RefCell::new(HashMap::new()),
        };
        store.run(migrate)?;
        store.verify()?;
        Ok(store)
    }

    fn connect(&self) -> Result<Client, HistoryError> {
        let mut config: postgres::Config = self.url.expose().parse().map_err(|e| self.error(&e))?;
        if config.get_password().is_none() {
            if let Ok(password) = std::env::var("PGPASSWORD") {
                config.password(password);
            }
        }
        if config.get_application_name().is_none() {
            config.application_name("solguard");
        }
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30));
        let connected = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => {
                let tls = tls::connector().map_err(|detail| HistoryError::Postgres {
                    location: self.url.to_string(),
                    detail,
                    unavailable: false,
                })?;
                config.connect(tls)
            }
            _ => config.connect(NoTls),
        };
        connected.map_err(|e| self.error(&e))
    }

    fn error(&self, error: &postgres::Error) -> HistoryError {
        HistoryError::Postgres {
            location: self.url.to_string(),
            detail: describe(error),
            unavailable: unavailable(error),
        }
    }

    /// Runs `operation` on the connection, connecting first when there is none (or the last
    /// one broke).
    fn run<T>(
        &self,
        operation: impl FnOnce(&mut Db<'_>) -> Result<T, Failure>,
    ) -> Result<T, HistoryError> {
        let mut slot: RefMut<'_, Option<Client>> = self.client.borrow_mut();
        let mut statements = self.statements.borrow_mut();
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = None;
            // Statements are prepared per connection.
            statements.clear();
            *slot = Some(self.connect()?);
        }
        let Some(client) = slot.as_mut() else {
            return Err(HistoryError::Postgres {
                location: self.url.to_string(),
                detail: "no connection".into(),
                unavailable: true,
            });
        };
        let result = operation(&mut Db {
            client: &mut *client,
            statements: &mut statements,
        });
        if client.is_closed() {
            *slot = None;
        }
        result.map_err(|failure| match failure {
            Failure::Postgres(error) => {
                if unavailable(&error) {
                    *slot = None;
                }
                self.error(&error)
            }
            Failure::Json(source) => HistoryError::Corrupt {
                location: self.url.to_string(),
                source,
            },
        })
    }

    /// Refuses a schema newer than this binary knows.
    fn too_new(&self, found: i64) -> HistoryError {
        HistoryError::TooNew {
            location: self.url.to_string(),
            found,
            supported: MIGRATIONS.len() as i64,
        }
    }

    pub fn ping(&self) -> Result<(), HistoryError> {
        self.run(|client| Ok(client.batch_execute("SELECT 1")?))
    }

    /// Checks the schema is one this binary knows (PostgreSQL keeps its own pages sound).
    pub fn verify(&self) -> Result<(), HistoryError> {
        let version = self.run(|client| {
            let row =
                client.query_one("SELECT COALESCE(MAX(version), 0) FROM solguard_schema", &[])?;
            Ok(i64::from(row.get::<_, i32>(0)))
        })?;
        if version > MIGRATIONS.len() as i64 {
            return Err(self.too_new(version));
        }
        Ok(())
    }
}

impl Drop for PostgresStore {
    /// The client says goodbye to the server with a blocking call, which must not run on a
    /// thread that drives async tasks (a daemon drops its store there): it runs on a thread of
    /// its own then.
    fn drop(&mut self) {
        let Some(client) = self.client.get_mut().take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::spawn(move || drop(client)).join();
        } else {
            drop(client);
        }
    }
}

/// Brings the schema up to date, once among daemons that start together.
fn migrate(client: &mut Db<'_>) -> Result<(), Failure> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS solguard_schema (version INTEGER NOT NULL)")?;
    let version: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM solguard_schema", &[])?
        .get(0);
    if version as usize > MIGRATIONS.len() {
        // Nothing changes; verify() names the refusal.
        return Ok(());
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(migration)?;
        tx.execute(
            "INSERT INTO solguard_schema (version) VALUES ($1)",
            &[&(index as i32 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(())
}
