//! A real PostgreSQL server for tests, started by the tests themselves: Debian's `postgresql`
//! binaries, `initdb` into a temporary folder (as the `postgres` user when the tests run as
//! root, since PostgreSQL refuses to run as root), listening on 127.0.0.1 only, on a free
//! port, with a password (SCRAM), stopped when dropped. It never skips: a test that needs it
//! fails loudly, naming what is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The superuser the tests connect as, and its password.
pub const USER: &str = "solguard";
pub const PASSWORD: &str = "s0lguard-test-pw";

pub struct Postgres {
    root: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// The account the server runs as (`None`: the current user).
    run_as: Option<String>,
    /// More `-c name=value` server options.
    options: String,
}

/// The folder with `initdb`, `pg_ctl` and `postgres`: Debian's newest version, else `PATH`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|bin| bin.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(newest) = versions.pop() {
        return newest;
    }
    let found = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match found {
        Some(initdb) if !initdb.is_empty() => PathBuf::from(initdb)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        _ => panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, no initdb on PATH): \
             these tests need a real server; install Debian's postgresql package (.ci/run does)"
        ),
    }
}

/// Gives everything under `dir` to the server's account (files a test wrote as root).
fn chown_tree(dir: &Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::chown(dir, Some(uid), Some(gid));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                chown_tree(&path, uid, gid);
            } else {
                let _ = std::os::unix::fs::chown(&path, Some(uid), Some(gid));
            }
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn uid_of(user: &str) -> (u32, u32) {
    let output = Command::new("id")
        .args(["-u", user])
        .output()
        .expect("run id");
    let group = Command::new("id")
        .args(["-g", user])
        .output()
        .expect("run id");
    let parse = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse::<u32>()
            .unwrap_or_else(|_| panic!("no {user} account: PostgreSQL cannot run as root"))
    };
    (parse(&output), parse(&group))
}

impl Postgres {
    /// Initialises and starts a new server; panics with the server's log when it cannot.
    pub fn start() -> Self {
        Self::start_with(|_| String::new())
    }

    /// A server that takes only TLS connections, with the certificate and key `files` writes
    /// into the folder it is given (returning their `-c` options).
    pub fn start_tls_only(files: impl FnOnce(&Path) -> String) -> Self {
        Self::start_with(|root| {
            let options = files(root);
            // Every TCP connection must use TLS: a plain one finds no pg_hba.conf entry.
            let hba = root.join("data/pg_hba.conf");
            let text = std::fs::read_to_string(&hba).expect("pg_hba.conf");
            let text = text
                .lines()
                .map(|l| {
                    if l.starts_with("host ") {
                        l.replacen("host ", "hostssl ", 1)
                    } else {
                        l.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(&hba, text).expect("write pg_hba.conf");
            options
        })
    }

    /// A new server; `prepare` runs after initdb (with the server's folder) and returns more
    /// server options.
    fn start_with(prepare: impl FnOnce(&Path) -> String) -> Self {
        let bin = bin_dir();
        let root = tempfile::Builder::new()
            .prefix("solguard-pg-")
            .tempdir()
            .expect("temp dir");
        let run_as = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            let (uid, gid) = uid_of(user);
            std::os::unix::fs::chown(root.path(), Some(uid), Some(gid)).expect("chown");
        }
        let password_file = root.path().join("pw");
        std::fs::write(&password_file, PASSWORD).expect("password file");
        if let Some(user) = &run_as {
            let (uid, gid) = uid_of(user);
            std::os::unix::fs::chown(&password_file, Some(uid), Some(gid)).expect("chown");
        }
        let mut server = Self {
            root,
            bin,
            port: free_port(),
            run_as,
            options: String::new(),
        };
        let data = server.data_dir();
        server.run_checked(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                USER,
                "--pwfile",
                &password_file.display().to_string(),
                "--auth",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        );
        server.options = prepare(server.root.path());
        if let Some(user) = &server.run_as {
            let (uid, gid) = uid_of(user);
            chown_tree(server.root.path(), uid, gid);
        }
        server.start_again();
        server
    }

    /// The server's own folder (its data, log and any files a test put there).
    pub fn root_path(&self) -> &Path {
        self.root.path()
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.root.path().join("server.log")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program).args(args);
                command
            }
            None => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
        }
    }

    fn run_checked(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program, args)
            .current_dir(self.root.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            output.status.success(),
            "{program} failed: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
    }

    /// Starts the (stopped) server again on its port.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=60 -c fsync=off {}",
            self.port,
            self.root.path().display(),
            self.options
        );
        self.run_checked(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir().display().to_string(),
                "-l",
                &self.log_file().display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server (fast shutdown: connections are cut, as when a server goes down).
    pub fn stop(&self) {
        self.run_checked(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir().display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// A URL of database `name` on this server, password included.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{name}",
            self.port
        )
    }

    /// Creates a new, empty database and returns its URL.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "solguard_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut client = self.client("postgres");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        self.url(&name)
    }

    /// A client of database `name`.
    pub fn client(&self, name: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(name), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to the test server: {e}\n{}", self.log()))
    }

    /// A client of the database at `url` (one [`Self::create_database`] returned).
    pub fn client_of(url: &str) -> postgres::Client {
        postgres::Client::connect(url, postgres::NoTls).expect("connect to the test database")
    }
}

impl Postgres {
    /// Stops at once: the data is thrown away with the folder.
    fn stop_immediately(&self) {
        let _ = self
            .command(
                "pg_ctl",
                &[
                    "-D",
                    &self.data_dir().display().to_string(),
                    "-m",
                    "immediate",
                    "stop",
                ],
            )
            .output();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop_immediately();
    }
}

static SHARED: std::sync::OnceLock<Postgres> = std::sync::OnceLock::new();

extern "C" fn stop_shared_server() {
    if let Some(server) = SHARED.get() {
        server.stop_immediately();
        let _ = std::fs::remove_dir_all(server.root.path());
    }
}

/// One server for every test of this test binary (each test takes a database of its own),
/// stopped when the binary exits.
pub fn shared_server() -> &'static Postgres {
    SHARED.get_or_init(|| {
        let server = Postgres::start();
        // SAFETY: registers a plain function; it only runs pg_ctl at exit.
        unsafe {
            libc::atexit(stop_shared_server);
        }
        server
    })
}
