//! The local `mgrctl` stand-in (module-protocol.md §10, §10.8).
//!
//! Installed in tests as `$MGR5_ROOT/sbin/mgrctl` (a symlink to this binary).
//! Syntax as the real one: `mgrctl -m billmgr [-o xml] FUNC key=value…`.
//! Each call is applied to the test database the way BILLmanager would
//! ([`funcs`]), answered with a `<doc>` on stdout, and appended to
//! `$MGR5_ROOT/var/mgrctl-journal.jsonl` (values of crypted params masked) so
//! tests and benchmarks can see and count the calls. `Fault` lines in the
//! config make chosen writes lie (answer `<ok/>`, store nothing) or fail
//! after applying ([`faults`]). Anything it does not
//! understand — unknown function, missing or non-numeric id, unknown item,
//! unknown parameter — is an `<error>` on stdout AND exit code 1: a stand-in
//! that silently accepted a wrong call would hide bugs in the module.
//!
//! The root is `MGR5_ROOT`, else derived from how we were called
//! (`<root>/sbin/mgrctl`). Database settings come from
//! `$MGR5_ROOT/etc/billmgr-sim.conf` ([`conf`]).
//!
//! Two modes, one code path per call ([`apply`]):
//! - direct (default): this process applies the call over a database
//!   connection of its own;
//! - core (`Core on` in the config): this process is a thin client
//!   ([`client`]) that hands the call to a long-lived core ([`server`]) holding
//!   a pool of connections, as a real `mgrctl` hands its call to the running
//!   BILLmanager. Each process's own connection handshake was most of the
//!   stand-in's cost per call (docs/testing.md, "The mgrctl stand-in for tests").

mod client;
mod conf;
pub(crate) mod crypt;
mod db;
mod faults;
mod funcs;
mod import;
mod pool;
mod problems;
pub(crate) mod server;
pub(crate) mod wire;

use std::io::Write;
use std::path::Path;

use pool::DbSlot;
use wire::find_root;
pub use wire::{Answer, Caller, SimError};

/// One parsed call.
#[derive(Debug, Clone)]
pub struct Call {
    pub func: String,
    pub params: Vec<(String, String)>,
}

impl Call {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Params with crypted values masked: what the journal may show.
    fn masked_params(&self) -> serde_json::Map<String, serde_json::Value> {
        let crypted = self.get("crypted") == Some("on");
        self.params
            .iter()
            .map(|(k, v)| {
                let shown = if crypted && !funcs::SAVEPARAM_STRUCTURAL.contains(&k.as_str()) {
                    "***".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), serde_json::Value::String(shown))
            })
            .collect()
    }
}

fn parse_args(args: &[String]) -> Result<Call, SimError> {
    let mut i = 0;
    let mut manager = None;
    let mut func = None;
    while i < args.len() {
        let a = &args[i];
        match a.as_str() {
            "-m" | "-o" => {
                let v = args.get(i + 1).ok_or_else(|| {
                    SimError::new("missed", a.clone(), format!("option {a} needs a value"))
                })?;
                if a == "-m" {
                    manager = Some(v.clone());
                } else if v != "xml" {
                    return Err(SimError::new(
                        "value",
                        "-o",
                        format!("output format '{v}' is not supported by the stand-in (only xml)"),
                    ));
                }
                i += 2;
            }
            s if s.starts_with('-') => {
                return Err(SimError::new("value", s, format!("unknown option {s}")));
            }
            _ => {
                func = Some(a.clone());
                i += 1;
                break;
            }
        }
    }
    match manager.as_deref() {
        Some("billmgr") => {}
        Some(other) => {
            return Err(SimError::new(
                "value",
                "-m",
                format!("manager '{other}' is not simulated (only billmgr)"),
            ))
        }
        None => {
            return Err(SimError::new(
                "missed",
                "-m",
                "option -m billmgr is required",
            ))
        }
    }
    let func = func.ok_or_else(|| SimError::new("missed", "func", "no function given"))?;
    let mut params = Vec::new();
    for a in &args[i..] {
        match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => params.push((k.to_string(), v.to_string())),
            _ => {
                return Err(SimError::new(
                    "value",
                    a.clone(),
                    format!("argument '{a}' is not key=value"),
                ))
            }
        }
    }
    Ok(Call { func, params })
}

/// A connection to the database of `<root>/etc/billmgr-sim.conf` (for the
/// other stand-ins that play BILLmanager, e.g. the import wizard).
pub(crate) fn connect_root(root: &Path) -> Result<mysql::Conn, SimError> {
    db::connect(&conf::Conf::load(root)?)
}

/// Appends the journal line of a call; a journal that cannot be written is
/// said on the call's stderr (the call itself stands).
fn journal(root: &Path, caller: &Caller, call: &Call, outcome: &str, answer: &mut Answer) {
    let entry = serde_json::json!({
        "time": chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        "pid": caller.pid,
        "func": call.func,
        "params": call.masked_params(),
        "outcome": outcome,
        "ssh_connection": caller.ssh_connection,
        "cwd": caller.cwd,
    });
    let path = root.join("var").join("mgrctl-journal.jsonl");
    let line = format!("{entry}\n");
    // One write of a whole line with O_APPEND: concurrent module runs (and
    // the core's threads) do not interleave lines.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        answer.stderr.push_str(&format!(
            "mgrctl stand-in: cannot append to {}: {e}\n",
            path.display()
        ));
    }
}

/// One call from its arguments to its answer: parsing, billmgr-sim.conf
/// (read for every call, as tests rewrite it between calls), faults, the
/// call itself and its journal line. The same code for both modes; only
/// where the database connection comes from differs (`slot`).
pub(crate) fn apply(root: &Path, caller: &Caller, args: &[String], slot: &mut DbSlot) -> Answer {
    let failed = |call: &Call, e: &SimError| {
        let mut answer = Answer::failure(e);
        journal(
            root,
            caller,
            call,
            &format!("error:{}", e.kind),
            &mut answer,
        );
        answer
    };
    let call = match parse_args(args) {
        Ok(c) => c,
        Err(e) => {
            let call = Call {
                func: args
                    .iter()
                    .find(|a| !a.starts_with('-'))
                    .cloned()
                    .unwrap_or_default(),
                params: Vec::new(),
            };
            return failed(&call, &e);
        }
    };
    // Read once per call: the fault rules and the call itself both need it.
    let conf = match conf::Conf::load(root) {
        Ok(conf) => conf,
        Err(e) => return failed(&call, &e),
    };
    let fault = match faults::hit(root, &conf.faults, &call) {
        Ok(f) => f,
        Err(e) => return failed(&call, &e),
    };
    if fault == Some(faults::Mode::Drop) {
        let mut answer = Answer::ok("<ok/>");
        journal(root, caller, &call, "fault:drop", &mut answer);
        return answer;
    }
    if fault == Some(faults::Mode::Fail) {
        let mut answer = Answer::failure(&SimError::new(
            "fault",
            call.func.clone(),
            "not applied (Fault fail in billmgr-sim.conf)",
        ));
        journal(root, caller, &call, "fault:fail", &mut answer);
        return answer;
    }
    if let Some(faults::Mode::Delay(ms)) = fault {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let result = funcs::execute(root, &conf, caller, &call, slot);
    if let Err(e) = &result {
        // A connection that failed mid-call may be mid-transaction or broken:
        // never handed to the next call.
        if e.kind == "database" {
            slot.discard();
        }
    }
    match result {
        Ok(_) if fault == Some(faults::Mode::FailAfter) => {
            let mut answer = Answer::failure(&SimError::new(
                "fault",
                call.func.clone(),
                "applied, then failed (Fault fail_after in billmgr-sim.conf)",
            ));
            journal(root, caller, &call, "fault:fail_after", &mut answer);
            answer
        }
        Ok(body) => {
            let mut answer = Answer::ok(&body);
            let outcome = match fault {
                Some(faults::Mode::Delay(_)) => "fault:delay",
                _ => "ok",
            };
            journal(root, caller, &call, outcome, &mut answer);
            answer
        }
        Err(e) => failed(&call, &e),
    }
}

pub fn main(argv0: &str, args: Vec<String>) -> i32 {
    let root = match find_root(argv0) {
        Ok(r) => r,
        Err(e) => return Answer::failure(&e).print(),
    };
    // `Core on` hands the call to the running core (started when none
    // answers): this very program, as `billmgr-sim mgrctl-core`.
    if wire::core_on(&root) {
        return match std::env::current_exe() {
            Ok(me) => client::main(&root, &args, &me),
            Err(e) => Answer::failure(&SimError::new(
                "core",
                "mgrctl-core",
                format!("cannot tell which program to start as the core: {e}"),
            ))
            .print(),
        };
    }
    let mut slot = DbSlot::direct();
    apply(&root, &Caller::of_this_process(), &args, &mut slot).print()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_values_with_equals_and_newlines() {
        let c = parse_args(&s(&[
            "-m",
            "billmgr",
            "-o",
            "xml",
            "service.saveparam",
            "elid=1",
            "value=a=b\nc d",
        ]))
        .unwrap();
        assert_eq!(c.func, "service.saveparam");
        assert_eq!(c.get("value"), Some("a=b\nc d"));
    }

    #[test]
    fn rejects_bad_command_lines() {
        assert!(parse_args(&s(&["paramlist"])).is_err());
        assert!(parse_args(&s(&["-m", "vmmgr", "paramlist"])).is_err());
        assert!(parse_args(&s(&["-m", "billmgr", "-o", "json", "paramlist"])).is_err());
        assert!(parse_args(&s(&["-m", "billmgr"])).is_err());
        assert!(parse_args(&s(&["-m", "billmgr", "f", "novalue"])).is_err());
        assert!(parse_args(&s(&["-m", "billmgr", "f", "=v"])).is_err());
    }

    #[test]
    fn crypted_values_masked() {
        let c = Call {
            func: "service.saveparam".into(),
            params: vec![
                ("elid".into(), "1".into()),
                ("token".into(), "abc".into()),
                ("crypted".into(), "on".into()),
            ],
        };
        let m = c.masked_params();
        assert_eq!(m["token"], "***");
        assert_eq!(m["elid"], "1");
    }
}
