//! The operating system's requests to the daemon: stop (SIGTERM, SIGINT; on Windows Ctrl-C,
//! Ctrl-Break and closing the console) and, on Unix, reload (SIGHUP). Windows has no SIGHUP:
//! there the daemon reloads through its file watcher and `POST /reload` on the status server.

/// What the operating system asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsRequest {
    /// Finish the packages in flight and stop; the name of the signal, for the log.
    Stop(&'static str),
    /// Load the config and policies again.
    #[cfg_attr(windows, allow(dead_code))]
    Reload(&'static str),
}

#[cfg(unix)]
pub struct OsSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl OsSignals {
    pub fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The next request; pending until one comes.
    pub async fn next(&mut self) -> OsRequest {
        tokio::select! {
            _ = self.terminate.recv() => OsRequest::Stop("SIGTERM"),
            _ = self.interrupt.recv() => OsRequest::Stop("SIGINT"),
            _ = self.hangup.recv() => OsRequest::Reload("SIGHUP"),
        }
    }
}

#[cfg(windows)]
pub struct OsSignals {
    ctrl_c: tokio::signal::windows::CtrlC,
    ctrl_break: tokio::signal::windows::CtrlBreak,
    ctrl_close: tokio::signal::windows::CtrlClose,
}

#[cfg(windows)]
impl OsSignals {
    pub fn listen() -> std::io::Result<Self> {
        use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
        Ok(Self {
            ctrl_c: ctrl_c()?,
            ctrl_break: ctrl_break()?,
            ctrl_close: ctrl_close()?,
        })
    }

    /// The next request; pending until one comes.
    pub async fn next(&mut self) -> OsRequest {
        tokio::select! {
            _ = self.ctrl_c.recv() => OsRequest::Stop("Ctrl-C"),
            _ = self.ctrl_break.recv() => OsRequest::Stop("Ctrl-Break"),
            _ = self.ctrl_close.recv() => OsRequest::Stop("console closed"),
        }
    }
}
