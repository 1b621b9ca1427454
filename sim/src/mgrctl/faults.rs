//! Faulty writes of the `mgrctl` stand-in, to prove that the module reads its
//! writes back before money moves (a
//! write `mgrctl` answers ok but does not store must never go unnoticed).
//!
//! A line in `billmgr-sim.conf`:
//! ```text
//! # Fault <mode> <func>[:<param>] [<nth>|*]
//! Fault drop service.saveparam:pmss_intent 2      # 2nd such write: <ok/>, nothing stored
//! Fault fail_after service.setexpiredate *        # every one: stored, then an error
//! Fault fail certificate.open                      # the first: an error, nothing stored
//! ```
//! `drop` answers `<ok/>` without applying the call; `fail_after` applies it,
//! then answers an error with exit code 1; `fail` answers an error with exit
//! code 1 and applies nothing; `delay:<ms>` waits that long, then applies the
//! call and answers as usual: past the module's `[mgrctl] timeout_secs` the
//! module kills its `mgrctl`, which in direct mode stops the call unapplied
//! and in core mode (`Core on`) leaves the core to apply it late, as
//! BILLmanager's core applies the call of a killed `mgrctl`. `<param>` narrows
//! `service.saveparam` / `service.dropparam` to one param name (either call
//! form). `<nth>` (default 1) counts the matching calls of all processes
//! (counters in `var/mgrctl-faults.json`, under a file lock); `*` hits every one.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Seek, Write};
use std::path::Path;

use super::{Call, SimError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `<ok/>`, nothing applied.
    Drop,
    /// Applied, then an error.
    FailAfter,
    /// An error, nothing applied.
    Fail,
    /// Wait this many milliseconds, then apply and answer as usual.
    Delay(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub mode: Mode,
    pub func: String,
    pub param: Option<String>,
    /// `None`: every matching call.
    pub nth: Option<u32>,
}

impl Rule {
    /// `<mode> <func>[:<param>] [<nth>|*]`
    pub fn parse(value: &str) -> Result<Rule, String> {
        let words: Vec<&str> = value.split_whitespace().collect();
        let (mode, target, nth) = match words.as_slice() {
            [m, t] => (*m, *t, "1"),
            [m, t, n] => (*m, *t, *n),
            _ => {
                return Err(
                    "Fault needs <drop|fail_after|fail|delay:<ms>> <func>[:<param>] [<nth>|*]"
                        .into(),
                )
            }
        };
        let mode = match mode {
            "drop" => Mode::Drop,
            "fail_after" => Mode::FailAfter,
            "fail" => Mode::Fail,
            m => match m.strip_prefix("delay:").map(str::parse::<u64>) {
                Some(Ok(ms)) => Mode::Delay(ms),
                _ => {
                    return Err(format!(
                        "Fault mode '{m}' unknown (drop, fail_after, fail, delay:<milliseconds>)"
                    ))
                }
            },
        };
        let (func, param) = match target.split_once(':') {
            Some((f, p)) => (f.to_string(), Some(p.to_string())),
            None => (target.to_string(), None),
        };
        let nth = match nth {
            "*" => None,
            n => Some(
                n.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("Fault count '{n}' is not a positive number or *"))?,
            ),
        };
        Ok(Rule {
            mode,
            func,
            param,
            nth,
        })
    }

    fn matches(&self, call: &Call) -> bool {
        if call.func != self.func {
            return false;
        }
        match &self.param {
            None => true,
            Some(p) => call.get("name") == Some(p.as_str()) || call.get(p).is_some(),
        }
    }

    fn key(&self) -> String {
        format!(
            "{:?} {}:{}",
            self.mode,
            self.func,
            self.param.as_deref().unwrap_or("")
        )
    }
}

/// The fault to apply to `call`, counting it. Counting failures are an
/// error: a test whose fault silently did not fire would prove nothing.
pub fn hit(root: &Path, rules: &[Rule], call: &Call) -> Result<Option<Mode>, SimError> {
    let matching: Vec<&Rule> = rules.iter().filter(|r| r.matches(call)).collect();
    if matching.is_empty() {
        return Ok(None);
    }
    let err = |e: std::io::Error| SimError::new("config", "mgrctl-faults.json", e.to_string());
    let path = root.join("var").join("mgrctl-faults.json");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(err)?;
    file.lock().map_err(err)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(err)?;
    let mut counts: BTreeMap<String, u32> = serde_json::from_str(&text).unwrap_or_default();
    let mut chosen = None;
    for rule in matching {
        let n = counts.entry(rule.key()).or_insert(0);
        *n += 1;
        let fires = rule.nth.is_none_or(|nth| nth == *n);
        if fires && chosen.is_none() {
            chosen = Some(rule.mode);
        }
    }
    let out = serde_json::to_string(&counts).unwrap_or_default();
    file.set_len(0).map_err(err)?;
    file.rewind().map_err(err)?;
    file.write_all(out.as_bytes()).map_err(err)?;
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(func: &str, params: &[(&str, &str)]) -> Call {
        Call {
            func: func.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn parses_and_matches() {
        let r = Rule::parse("drop service.saveparam:pmss_intent 2").unwrap();
        assert_eq!(r.mode, Mode::Drop);
        assert_eq!(r.nth, Some(2));
        assert!(r.matches(&call(
            "service.saveparam",
            &[("name", "pmss_intent"), ("value", "x")]
        )));
        assert!(r.matches(&call("service.saveparam", &[("pmss_intent", "x")])));
        assert!(!r.matches(&call("service.saveparam", &[("name", "pmss_upstream_id")])));
        let all = Rule::parse("fail_after service.postopen *").unwrap();
        assert_eq!(all.nth, None);
        assert!(all.matches(&call("service.postopen", &[("elid", "1")])));
        let fail = Rule::parse("fail certificate.open").unwrap();
        assert_eq!((fail.mode, fail.nth), (Mode::Fail, Some(1)));
        let late = Rule::parse("delay:3000 processing.import.service").unwrap();
        assert_eq!((late.mode, late.nth), (Mode::Delay(3000), Some(1)));
        assert!(Rule::parse("delay:soon x").is_err());
        assert!(Rule::parse("explode x").is_err());
        assert!(Rule::parse("drop x 0").is_err());
        assert!(Rule::parse("drop").is_err());
    }

    #[test]
    fn counts_across_calls() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var")).unwrap();
        let rules = [Rule::parse("drop service.setstatus 2").unwrap()];
        let c = call("service.setstatus", &[("elid", "1")]);
        assert_eq!(hit(dir.path(), &rules, &c).unwrap(), None);
        assert_eq!(hit(dir.path(), &rules, &c).unwrap(), Some(Mode::Drop));
        assert_eq!(hit(dir.path(), &rules, &c).unwrap(), None);
        let other = call("service.postopen", &[("elid", "1")]);
        assert_eq!(hit(dir.path(), &rules, &other).unwrap(), None);
    }
}
