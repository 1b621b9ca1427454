//! Shared helpers for the simulator's own tests: start `billmgr-sim upstream` as a real process, talk
//! to it over a small std HTTP client (raw, so faults such as a dropped connection are observable),
//! and read XML answers.
#![allow(dead_code)]

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const USER: &str = "reseller@example.com";
pub const PASS: &str = "s3cret:pa55";

pub const CSR: &str =
    "-----BEGIN CERTIFICATE REQUEST-----\nMIIBsimulated\n-----END CERTIFICATE REQUEST-----\n";

pub struct Sim {
    child: Child,
    /// `host:port`
    pub addr: String,
    pub first_line: String,
}

impl Drop for Sim {
    /// SIGTERM, as a service manager stops it: the simulator writes its state file first (tests
    /// that restart over the same `--state` rely on it). SIGKILL if it has not ended in 10 s.
    fn drop(&mut self) {
        if self.terminate(Duration::from_secs(10)).is_none() {
            self.kill_hard();
        }
    }
}

/// A raw HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub content_length: Option<usize>,
    pub body: String,
}

impl Sim {
    /// Starts the simulator with an account USER/PASS holding 100.00 EUR plus `args`.
    pub fn start(args: &[&str]) -> Sim {
        let account = format!("{USER}:{PASS}:100.00:EUR");
        let mut all = vec!["--account", account.as_str()];
        all.extend_from_slice(args);
        Sim::start_bare(&all)
    }

    pub fn start_bare(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_billmgr-sim"))
            .arg("upstream")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn billmgr-sim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let first_line = line.trim().to_string();
        let addr = first_line
            .rsplit("://")
            .next()
            .expect("url in first line")
            .to_string();
        assert!(first_line.starts_with("listening on http"), "{first_line}");
        Sim {
            child,
            addr,
            first_line,
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit; its status, `None` if still running.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Ends the simulator with SIGKILL (nothing written on the way out); waits for it.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends one raw request; `Err` when the connection ends without a complete head.
    pub fn raw(&self, request: &[u8]) -> Result<Answer, String> {
        let mut s = TcpStream::connect(&self.addr).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        s.write_all(request).map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        parse_answer(&buf)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> Result<Answer, String> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.raw(req.as_bytes())
    }

    /// POSTs form parameters to /billmgr (no `out` added).
    pub fn post_form(&self, params: &[(&str, &str)]) -> Result<Answer, String> {
        let body = form(params);
        self.request(
            "POST",
            "/billmgr",
            "application/x-www-form-urlencoded",
            &body,
        )
    }

    /// An API call as USER with `out=xml`; the XML body.
    pub fn api(&self, func: &str, params: &[(&str, &str)]) -> String {
        let authinfo = format!("{USER}:{PASS}");
        let mut all = vec![
            ("out", "xml"),
            ("func", func),
            ("authinfo", authinfo.as_str()),
        ];
        all.extend_from_slice(params);
        let a = self.post_form(&all).expect("answer");
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }

    pub fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let text = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let a = self
            .request(method, path, "application/json", &text)
            .expect("control answer");
        assert_eq!(a.status, 200, "{method} {path}: {}", a.body);
        serde_json::from_str(&a.body).expect("control JSON")
    }

    pub fn balance(&self) -> String {
        self.control("GET", &format!("/_sim/account/{USER}"), Value::Null)["balance"]
            .as_str()
            .expect("balance")
            .to_string()
    }

    /// Orders plan 3033 for 12 months; returns the new id.
    pub fn order(&self, cn: &str, extra: &[(&str, &str)]) -> u64 {
        let mut p = vec![
            ("sok", "ok"),
            ("skipbasket", "on"),
            ("clicked_button", "finish"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", cn),
            ("csr", CSR),
        ];
        // Later entries win, so extras can override the defaults.
        p.extend_from_slice(extra);
        let xml = self.api("certificate.order.param", &p);
        text(&xml, "doc/id")
            .unwrap_or_else(|| panic!("no id in {xml}"))
            .parse()
            .expect("numeric id")
    }

    pub fn item(&self, id: u64) -> Value {
        let all = self.control("GET", "/_sim/certificates", Value::Null);
        all.as_array()
            .expect("array")
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

pub fn form(params: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

pub fn parse_answer(buf: &[u8]) -> Result<Answer, String> {
    let text = String::from_utf8_lossy(buf).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no complete answer ({} bytes)", buf.len()))?;
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let mut content_type = String::new();
    let mut content_length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-type" => content_type = v.trim().to_string(),
                "content-length" => content_length = v.trim().parse().ok(),
                _ => {}
            }
        }
    }
    Ok(Answer {
        status,
        content_type,
        content_length,
        body: body.to_string(),
    })
}

/// Text of the first element at `path` (`doc/error/msg`).
pub fn text(xml: &str, path: &str) -> Option<String> {
    let mut r = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut capture: Option<String> = None;
    loop {
        match r.read_event().ok()? {
            Event::Start(s) => {
                stack.push(String::from_utf8_lossy(s.name().as_ref()).into_owned());
                if stack.join("/") == path {
                    capture = Some(String::new());
                }
            }
            Event::Empty(s) => {
                stack.push(String::from_utf8_lossy(s.name().as_ref()).into_owned());
                if stack.join("/") == path {
                    return Some(String::new());
                }
                stack.pop();
            }
            Event::Text(t) => {
                if let Some(c) = capture.as_mut() {
                    c.push_str(&t.unescape().ok()?);
                }
            }
            Event::End(_) => {
                if stack.join("/") == path {
                    return capture;
                }
                stack.pop();
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Attribute of the first element at `path`.
pub fn attr(xml: &str, path: &str, name: &str) -> Option<String> {
    let mut r = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    loop {
        let (s, empty) = match r.read_event().ok()? {
            Event::Start(s) => (s, false),
            Event::Empty(s) => (s, true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => return None,
            _ => continue,
        };
        stack.push(String::from_utf8_lossy(s.name().as_ref()).into_owned());
        if stack.join("/") == path {
            return s.try_get_attribute(name).ok()?.map(|a| {
                a.unescape_value()
                    .map(|v| v.into_owned())
                    .unwrap_or_default()
            });
        }
        if empty {
            stack.pop();
        }
    }
}

/// `(type, [(param, value)])` of an error answer.
pub fn error(xml: &str) -> Option<(String, Vec<(String, String)>)> {
    let kind = attr(xml, "doc/error", "type")?;
    let mut params = Vec::new();
    let mut r = Reader::from_str(xml);
    let mut current: Option<String> = None;
    loop {
        match r.read_event().ok()? {
            Event::Start(s) if s.name().as_ref() == b"param" => {
                current = s
                    .try_get_attribute("name")
                    .ok()
                    .flatten()
                    .map(|a| String::from_utf8_lossy(&a.value).into_owned());
            }
            Event::Text(t) => {
                if let Some(n) = current.take() {
                    params.push((n, t.unescape().ok()?.into_owned()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Some((kind, params))
}

/// Counts `<elem>` rows of a list answer.
pub fn rows(xml: &str) -> usize {
    xml.matches("<elem>").count()
}

pub fn today_plus_months(months: u32) -> String {
    let today = chrono::Utc::now().date_naive();
    today
        .checked_add_months(chrono::Months::new(months))
        .expect("date")
        .format("%Y-%m-%d")
        .to_string()
}
