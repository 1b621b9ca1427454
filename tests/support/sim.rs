//! `billmgr-sim upstream` for tests: spawn on a free port, wrap the control API
//! (BRIEF "Simulator control API"), kill on Drop.
//!
//! Provisional copy by the client helper; the sim-upstream helper owns this file.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;

pub struct SimUpstream {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub base: String,
    http: reqwest::blocking::Client,
}

impl SimUpstream {
    pub fn start() -> SimUpstream {
        SimUpstream::start_with(&[])
    }

    pub fn start_with(args: &[&str]) -> SimUpstream {
        let mut child = Command::new(super::bin_path("billmgr-sim"))
            .args(["upstream", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn billmgr-sim");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let mut b = reqwest::blocking::Client::builder();
        if let Some(pos) = args.iter().position(|a| *a == "--tls-dir") {
            let pem = std::fs::read(std::path::Path::new(args[pos + 1]).join("ca.pem")).unwrap();
            b = b.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        SimUpstream {
            child,
            _stdout: stdout,
            base,
            http: b.build().unwrap(),
        }
    }

    /// The API URL (`…/billmgr`).
    pub fn api_url(&self) -> String {
        format!("{}/billmgr", self.base)
    }

    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(serde_json::to_string(&b).unwrap());
        }
        let resp = r.send().unwrap();
        let status = resp.status();
        let text = resp.text().unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body))
    }

    pub fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None)
    }

    pub fn delete(&self, path: &str) -> Value {
        self.send(reqwest::Method::DELETE, path, None)
    }

    pub fn put_account(&self, account: Value) -> Value {
        self.post("/_sim/account", account)
    }

    pub fn account(&self, username: &str) -> Value {
        self.get(&format!("/_sim/account/{username}"))
    }

    pub fn fault(&self, fault: Value) -> Value {
        self.post("/_sim/fault", fault)
    }

    pub fn knobs(&self, knobs: Value) -> Value {
        self.post("/_sim/knobs", knobs)
    }

    /// Issue one pending certificate, or all (`None`).
    pub fn issue(&self, id: Option<u64>) -> Value {
        match id {
            Some(id) => self.post("/_sim/issue", serde_json::json!({ "id": id })),
            None => self.post("/_sim/issue", serde_json::json!({})),
        }
    }

    pub fn journal(&self) -> Value {
        self.get("/_sim/journal")
    }

    pub fn certificates(&self) -> Value {
        self.get("/_sim/certificates")
    }
}

impl Drop for SimUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
