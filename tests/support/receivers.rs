//! Real servers for alert tests, on 127.0.0.1 only: an HTTP receiver that records requests and
//! answers with a programmed sequence of status codes, and a minimal SMTP server that records
//! the messages it is given.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One HTTP request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("body is JSON")
    }
}

/// An HTTP server recording every request.
pub struct HttpReceiver {
    pub address: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
}

impl HttpReceiver {
    /// Listens on a free port; answers the n-th request with `statuses[n]` (the last one
    /// repeated; 200 when empty).
    pub fn start(statuses: &[u16]) -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").expect("bind"), statuses)
    }

    /// Listens on `address` (a port chosen earlier).
    pub fn start_at(address: SocketAddr, statuses: &[u16]) -> Self {
        assert!(address.ip().is_loopback());
        Self::start_on(TcpListener::bind(address).expect("bind"), statuses)
    }

    /// Listens on a free port and answers every request with `302 Found` and
    /// `Location: {location}` (a receiver that tries to send the delivery elsewhere).
    pub fn redirecting(location: &str) -> Self {
        Self::start_with(
            TcpListener::bind("127.0.0.1:0").expect("bind"),
            &[302],
            format!("Location: {location}\r\n"),
        )
    }

    fn start_on(listener: TcpListener, statuses: &[u16]) -> Self {
        Self::start_with(listener, statuses, String::new())
    }

    /// Like [`Self::start_on`], with `extra_headers` (each ending in CRLF) in every response.
    fn start_with(listener: TcpListener, statuses: &[u16], extra_headers: String) -> Self {
        let address = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let statuses = statuses.to_vec();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Some(request) = read_request(&stream) else {
                    continue;
                };
                let count = {
                    let mut all = recorded.lock().unwrap();
                    all.push(request);
                    all.len()
                };
                let status = statuses
                    .get(count - 1)
                    .or(statuses.last())
                    .copied()
                    .unwrap_or(200);
                let mut stream = stream;
                let reason = match status {
                    200 => "OK",
                    302 => "Found",
                    _ => "Status",
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} {reason}\r\n{extra_headers}Content-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        Self { address, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}

/// A minimal SMTP server (no TLS, no auth): records each message's envelope and data.
pub struct SmtpReceiver {
    pub address: SocketAddr,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpReceiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&messages);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || {
                    let _ = smtp_session(stream, &recorded);
                });
            }
        });
        Self { address, messages }
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

fn smtp_session(stream: TcpStream, messages: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 localhost test SMTP\r\n")?;
    let mut envelope = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") {
            writer.write_all(b"250-localhost\r\n250 8BITMIME\r\n")?;
        } else if command.starts_with("HELO")
            || command.starts_with("RSET")
            || command.starts_with("NOOP")
        {
            writer.write_all(b"250 OK\r\n")?;
        } else if command.starts_with("MAIL") || command.starts_with("RCPT") {
            envelope.push_str(line.trim_end());
            envelope.push('\n');
            writer.write_all(b"250 OK\r\n")?;
        } else if command.starts_with("DATA") {
            writer.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            let mut data = String::new();
            loop {
                let mut data_line = String::new();
                if reader.read_line(&mut data_line)? == 0 {
                    return Ok(());
                }
                if data_line == ".\r\n" {
                    break;
                }
                data.push_str(&data_line);
            }
            messages.lock().unwrap().push(format!("{envelope}\n{data}"));
            envelope.clear();
            writer.write_all(b"250 OK queued\r\n")?;
        } else if command.starts_with("QUIT") {
            writer.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            writer.write_all(b"502 not implemented\r\n")?;
        }
    }
}
