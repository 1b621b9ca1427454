//! A minimal HTTP/1.1 client for the simulator's control API on loopback
//! (`/_sim/…`, JSON). The simulator answers every request with
//! `Connection: close` and a `Content-Length`, so reading to EOF is enough;
//! nothing here is meant for any other server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(15);

/// The control API of one running `billmgr-sim upstream`.
#[derive(Debug, Clone)]
pub struct Control {
    /// `127.0.0.1:PORT`
    pub addr: String,
}

impl Control {
    pub fn get(&self, path: &str) -> Result<Value, String> {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.request("POST", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Result<Value, String> {
        self.request("DELETE", path, None)
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let what = format!("{method} {path}");
        let payload = body.map(Value::to_string).unwrap_or_default();
        let mut stream =
            TcpStream::connect(&self.addr).map_err(|e| format!("{what}: connect: {e}"))?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|_| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| format!("{what}: {e}"))?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            payload.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|_| stream.write_all(payload.as_bytes()))
            .map_err(|e| format!("{what}: send: {e}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .map_err(|e| format!("{what}: read: {e}"))?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("{what}: answer without a header end"))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{what}: bad status line"))?;
        if !(200..300).contains(&status) {
            return Err(format!("{what}: HTTP {status}: {}", body.trim()));
        }
        if body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(body).map_err(|e| format!("{what}: answer is not JSON: {e}"))
    }
}
