//! Request journal (SIM-32): every API request with its parameters — secrets masked before they are
//! stored — and what the simulator answered. Read by tests through `GET /_sim/journal`.

use serde::Serialize;
use std::collections::BTreeMap;

/// Parameters whose values never reach the journal.
const SECRET_PARAMS: &[&str] = &["password", "key", "passwd", "auth"];

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: u64,
    /// Simulator clock, RFC 3339.
    pub time: String,
    pub func: String,
    pub params: BTreeMap<String, String>,
    /// `ok`, `error:<type>`, `fault:<kind>`, or `http:<status>` for a request the API refused.
    pub outcome: String,
    /// For faults under which the request was still carried out (delay, truncated,
    /// drop_after_commit): what it produced (`ok` / `error:<type>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// Copy of `params` safe to keep: `authinfo` keeps its user name only.
pub fn mask(params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    params
        .iter()
        .map(|(k, v)| {
            let masked = if k == "authinfo" {
                match v.split_once(':') {
                    Some((user, _)) => format!("{user}:***"),
                    None => "***".to_string(),
                }
            } else if SECRET_PARAMS.contains(&k.as_str()) {
                "***".to_string()
            } else {
                v.clone()
            };
            (k.clone(), masked)
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct Journal {
    entries: Vec<Entry>,
    next_seq: u64,
}

impl Journal {
    pub fn record(&mut self, mut entry: Entry) {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        self.entries.push(entry);
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Clears the entries; sequence numbers keep growing so a test never confuses old and new.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets() {
        let mut p = BTreeMap::new();
        p.insert("authinfo".to_string(), "bob:s3cret:x".to_string());
        p.insert("password".to_string(), "s3cret".to_string());
        p.insert("key".to_string(), "-----BEGIN PRIVATE KEY-----".to_string());
        p.insert("CN".to_string(), "a.example".to_string());
        let m = mask(&p);
        assert_eq!(m["authinfo"], "bob:***");
        assert_eq!(m["password"], "***");
        assert_eq!(m["key"], "***");
        assert_eq!(m["CN"], "a.example");
        assert!(!format!("{m:?}").contains("s3cret"));
    }
}
