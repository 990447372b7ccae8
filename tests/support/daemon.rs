//! Test harness for `solguard watch`: a temporary root with a config, the real binary started
//! on it, signals, waits, and readers for reports, the history database and the status server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A config for fast tests: short settle time, status server off unless `extra` sets it.
pub const BASE_CONFIG: &str = r#"
[daemon]
settle_ms = 300
workers = 2
poll_interval_ms = 200
shutdown_grace_s = 30

[[alerts]]
type = "file"
name = "log"
path = "state/alerts.jsonl"
"#;

/// A temporary daemon root: `config.toml`, `drop/`, `reports/`, `state/`.
pub struct Root {
    pub dir: tempfile::TempDir,
    /// Environment variables given to every daemon started on this root.
    pub env: Vec<(String, String)>,
}

impl Root {
    /// A root whose config is [`BASE_CONFIG`] plus `daemon_extra` lines in `[daemon]`, then
    /// `rest` (watch folders and anything else). `status` is always set: off, or `address`.
    pub fn new(daemon_extra: &str, rest: &str, status: Option<SocketAddr>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = status.map_or("off".to_owned(), |a| a.to_string());
        let config = BASE_CONFIG.replace(
            "[daemon]\n",
            &format!("[daemon]\nstatus = \"{status}\"\n{daemon_extra}\n"),
        );
        std::fs::write(dir.path().join("config.toml"), format!("{config}\n{rest}"))
            .expect("write config");
        std::fs::create_dir_all(dir.path().join("drop")).expect("create drop/");
        Self {
            dir,
            env: Vec::new(),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn config(&self) -> PathBuf {
        self.path("config.toml")
    }

    /// Starts `solguard watch` on this root and waits until it watches its folders.
    pub fn start(&self) -> Daemon {
        self.start_with(&self.config())
    }

    /// Starts `solguard watch` with another config of this root (several daemons on one
    /// root's folders).
    pub fn start_with(&self, config: &Path) -> Daemon {
        let log = self.path(&format!("daemon-{}.log", unique()));
        let child = Command::new(env!("CARGO_BIN_EXE_solguard"))
            .args(["watch", "--config"])
            .arg(config)
            .current_dir(self.dir.path())
            .env("SOLGUARD_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start solguard watch");
        let daemon = Daemon { child, log };
        assert!(
            wait_until(30, || daemon.log().contains("solguard watch started")),
            "daemon did not start:\n{}",
            daemon.log()
        );
        daemon
    }

    /// Runs `solguard watch --once` and returns its exit status and standard error.
    pub fn once(&self) -> (ExitStatus, String) {
        self.once_with(&[])
    }

    /// Runs `solguard watch --once` with extra arguments.
    pub fn once_with(&self, extra: &[&str]) -> (ExitStatus, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_solguard"))
            .args(["watch", "--once", "--config"])
            .arg(self.config())
            .args(extra)
            .current_dir(self.dir.path())
            .env("SOLGUARD_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run solguard watch --once");
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// JSON reports in `reports/` (not the index), parsed, by file name.
    pub fn reports(&self) -> Vec<(String, serde_json::Value)> {
        let Ok(entries) = std::fs::read_dir(self.path("reports")) else {
            return Vec::new();
        };
        let mut reports: Vec<(String, serde_json::Value)> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter(|p| p.file_name().is_some_and(|n| n != "index.json"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("read report");
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, serde_json::from_str(&text).expect("report is JSON"))
            })
            .collect();
        reports.sort_by(|a, b| a.0.cmp(&b.0));
        reports
    }

    /// The report whose solution is `unique_name`, if written.
    pub fn report_for(&self, unique_name: &str) -> Option<serde_json::Value> {
        self.reports()
            .into_iter()
            .map(|(_, r)| r)
            .find(|r| r["packages"][0]["unique_name"] == unique_name)
    }

    /// Rows in a table of the history database.
    pub fn rows(&self, table: &str) -> i64 {
        let db = rusqlite::Connection::open(self.path("state/history.db")).expect("open db");
        db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .expect("count rows")
    }

    /// Lines in the alerts file, parsed.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path("state/alerts.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("alert line is JSON"))
            .collect()
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A running daemon; killed on drop if still running.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Sends SIGTERM and waits (at most 60 s) for the exit.
    pub fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop within 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (at most `seconds`) until `condition` holds; fails the test with the log if not.
    pub fn wait_for(&self, seconds: u64, condition: impl FnMut() -> bool) {
        assert!(
            wait_until(seconds, condition),
            "condition not met within {seconds} s; daemon log:\n{}",
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass; returns whether it held.
pub fn wait_until(seconds: u64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

/// A free port on 127.0.0.1 (bound, then released for the daemon).
pub fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// `GET path` over HTTP/1.0 on 127.0.0.1: the status code and body, or `None` when nothing
/// listens.
pub fn http_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    http_get_with(address, path, "")
}

/// [`http_get`] with extra header lines (each ending in `\r\n`).
pub fn http_get_with(address: SocketAddr, path: &str, headers: &str) -> Option<(u16, String)> {
    assert!(address.ip().is_loopback(), "tests only talk to 127.0.0.1");
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\n{headers}\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// One HTTP/1.0 exchange with `method` and extra `headers` (each ending in CRLF): the status,
/// the response head (status line and headers) and the body.
pub fn http_exchange(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
) -> Option<(u16, String, String)> {
    assert!(address.ip().is_loopback(), "tests only talk to 127.0.0.1");
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n{headers}\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((status, head.to_owned(), body.to_owned()))
}

/// Copies `from` to `to` through a temporary name, as a careful copier would.
pub fn copy_in(from: &Path, to: &Path) {
    let part = to.with_extension("zip.part");
    std::fs::copy(from, &part).expect("copy package");
    std::fs::rename(&part, to).expect("rename package");
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("list folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}
