//! Minimal HTTP/1.1 over a raw stream. Hand-rolled on purpose: fault injection (SIM-31) needs control
//! a framework would hide — answering late, closing after the state change without a byte, sending a
//! body shorter than its Content-Length, or an HTML 502. One request per connection, always
//! `Connection: close`.

use std::io::{BufRead, BufReader, Read, Write};

/// Requests larger than this are refused (a CSR or a catalogue is far smaller).
const MAX_BODY: usize = 8 * 1024 * 1024;
const MAX_HEAD_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;

/// A plain TCP stream or a TLS stream over one.
pub trait Stream: Read + Write + Send {
    /// Ends a complete answer politely (TLS: `close_notify`). Not called when a fault cuts the answer.
    fn finish(&mut self) {}
}

impl Stream for std::net::TcpStream {}

impl Stream for rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream> {
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
    }
}

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Query parameters, then form-body parameters (the body wins on a repeated name, SIM-1).
    pub fn form_params(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect();
        let is_form = self
            .header("content-type")
            .map(|c| {
                c.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
            .unwrap_or(!self.body.is_empty());
        if is_form {
            out.extend(form_urlencoded::parse(&self.body).into_owned());
        }
        out
    }
}

fn read_line(r: &mut impl BufRead) -> Result<String, String> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_HEAD_LINE as u64)
        .read_until(b'\n', &mut buf)
        .map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("connection closed before a request".into());
    }
    if !buf.ends_with(b"\n") {
        return Err("request line too long".into());
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| "request head is not UTF-8".to_string())
}

/// Reads one request. Errors mean the client sent something unusable (answered with 400 if possible).
pub fn read_request(stream: &mut dyn Stream) -> Result<Request, String> {
    let mut r = BufReader::new(stream);
    let line = read_line(&mut r)?;
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().ok_or("bad request line")?.to_string();
    let mut headers = Vec::new();
    loop {
        let h = read_line(&mut r)?;
        if h.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err("too many headers".into());
        }
        let (k, v) = h.split_once(':').ok_or("bad header line")?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let mut req = Request {
        method,
        path,
        query,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|t| !t.eq_ignore_ascii_case("identity"))
    {
        return Err("chunked request bodies are not supported; send Content-Length".into());
    }
    let len: usize = match req.header("content-length") {
        Some(v) => v.parse().map_err(|_| "bad Content-Length")?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err("request body too large".into());
    }
    if len > 0
        && req
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        // curl asks before sending larger bodies; answer so hand-run requests do not stall.
        r.get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|e| format!("write: {e}"))?;
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .map_err(|e| format!("request body: {e}"))?;
    req.body = body;
    Ok(req)
}

/// A complete answer.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn xml(body: String) -> Response {
        Response {
            status: 200,
            content_type: "text/xml; charset=UTF-8",
            body: body.into_bytes(),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    pub fn html(status: u16, body: String) -> Response {
        Response {
            status,
            content_type: "text/html; charset=UTF-8",
            body: body.into_bytes(),
        }
    }

    fn head(&self) -> String {
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nServer: billmgr-sim\r\n\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        )
    }

    pub fn write_to(&self, stream: &mut dyn Stream) -> std::io::Result<()> {
        stream.write_all(self.head().as_bytes())?;
        stream.write_all(&self.body)?;
        stream.flush()?;
        stream.finish();
        Ok(())
    }

    /// Announces the full length but sends only the first half of the body (fault `truncated`).
    pub fn write_truncated(&self, stream: &mut dyn Stream) -> std::io::Result<()> {
        stream.write_all(self.head().as_bytes())?;
        stream.write_all(&self.body[..self.body.len() / 2])?;
        stream.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}
