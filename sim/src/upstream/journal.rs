//! Request journal (SIM-32): every API request with its parameters — secrets masked before they are
//! stored — and what the simulator answered. Read by tests through `GET /_sim/journal`. Bounded
//! (`--journal-limit`): the oldest entries go first, sequence numbers keep counting, so a long load
//! run cannot grow the simulator without end and a reader sees the gap.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

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

/// Entries kept by default: a bulk sync of 10,000 certificates makes 10,000–20,000 requests a
/// round; a few rounds fit, and at a few hundred bytes an entry the journal stays below ~100 MB.
pub const DEFAULT_LIMIT: usize = 200_000;

#[derive(Debug)]
pub struct Journal {
    entries: VecDeque<Entry>,
    next_seq: u64,
    limit: usize,
}

impl Default for Journal {
    fn default() -> Journal {
        Journal::new(DEFAULT_LIMIT)
    }
}

impl Journal {
    pub fn new(limit: usize) -> Journal {
        Journal {
            entries: VecDeque::new(),
            next_seq: 0,
            limit: limit.max(1),
        }
    }

    /// Appends `entry`; its sequence number.
    pub fn record(&mut self, mut entry: Entry) -> u64 {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        if self.entries.len() >= self.limit {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
        self.next_seq
    }

    /// Corrects entry `seq` (an answer that failed after it was recorded).
    pub fn amend(&mut self, seq: u64, change: impl FnOnce(&mut Entry)) {
        if let Some(e) = self.entries.iter_mut().rev().find(|e| e.seq == seq) {
            change(e);
        }
    }

    pub fn entries(&self) -> &VecDeque<Entry> {
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

    fn entry(func: &str) -> Entry {
        Entry {
            seq: 0,
            time: String::new(),
            func: func.to_string(),
            params: BTreeMap::new(),
            outcome: "ok".to_string(),
            result: None,
        }
    }

    #[test]
    fn bounded_oldest_first_and_seq_keeps_counting() {
        let mut j = Journal::new(3);
        for f in ["a", "b", "c", "d", "e"] {
            j.record(entry(f));
        }
        let kept: Vec<(u64, &str)> = j
            .entries()
            .iter()
            .map(|e| (e.seq, e.func.as_str()))
            .collect();
        assert_eq!(kept, [(3, "c"), (4, "d"), (5, "e")]);
        j.amend(4, |e| e.outcome = "error:internal".into());
        assert_eq!(j.entries()[1].outcome, "error:internal");
        j.clear();
        assert_eq!(j.record(entry("f")), 6);
    }
}
