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

mod conf;
pub(crate) mod crypt;
mod db;
mod faults;
mod funcs;
mod import;
mod problems;

use std::io::Write;
use std::path::{Path, PathBuf};

use quick_xml::escape::escape;

/// A failure answered as `<doc><error type object><msg>…</msg></error></doc>`.
#[derive(Debug, Clone)]
pub struct SimError {
    pub kind: &'static str,
    pub object: String,
    pub msg: String,
}

impl SimError {
    pub fn new(kind: &'static str, object: impl Into<String>, msg: impl Into<String>) -> SimError {
        SimError {
            kind,
            object: object.into(),
            msg: msg.into(),
        }
    }

    fn document(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><error type=\"{}\" object=\"{}\"><msg>{}</msg></error></doc>\n",
            escape(self.kind),
            escape(self.object.as_str()),
            escape(self.msg.as_str())
        )
    }
}

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

/// `MGR5_ROOT`, else `<root>` from `<root>/sbin/mgrctl`.
fn find_root(argv0: &str) -> Result<PathBuf, SimError> {
    if let Some(v) = std::env::var_os("MGR5_ROOT").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(v));
    }
    let p = Path::new(argv0);
    let sbin = p
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "sbin"));
    match sbin.and_then(Path::parent) {
        Some(root) if p.file_name().is_some_and(|n| n == "mgrctl") => {
            let root = if root.as_os_str().is_empty() {
                Path::new(".")
            } else {
                root
            };
            Ok(root.to_path_buf())
        }
        _ => Err(SimError::new(
            "missed",
            "MGR5_ROOT",
            "cannot tell the BILLmanager root: set MGR5_ROOT or call me as <root>/sbin/mgrctl",
        )),
    }
}

/// A connection to the database of `<root>/etc/billmgr-sim.conf` (for the
/// other stand-ins that play BILLmanager, e.g. the import wizard).
pub(crate) fn connect_root(root: &Path) -> Result<mysql::Conn, SimError> {
    db::connect(&conf::Conf::load(root)?)
}

fn journal(root: &Path, call: &Call, outcome: &str) {
    let entry = serde_json::json!({
        "time": chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        "pid": std::process::id(),
        "func": call.func,
        "params": call.masked_params(),
        "outcome": outcome,
        "ssh_connection": std::env::var("SSH_CONNECTION").unwrap_or_default(),
        "cwd": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
    });
    let path = root.join("var").join("mgrctl-journal.jsonl");
    let line = format!("{entry}\n");
    // One write of a whole line with O_APPEND: concurrent module runs do not
    // interleave lines.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("mgrctl stand-in: cannot append to {}: {e}", path.display());
    }
}

pub fn main(argv0: &str, args: Vec<String>) -> i32 {
    let root = match find_root(argv0) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let call = match parse_args(&args) {
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
            journal(&root, &call, &format!("error:{}", e.kind));
            return fail(&e);
        }
    };
    // Read once: the fault rules and the call itself both need it.
    let conf = match conf::Conf::load(&root) {
        Ok(conf) => conf,
        Err(e) => {
            journal(&root, &call, &format!("error:{}", e.kind));
            return fail(&e);
        }
    };
    let fault = match faults::hit(&root, &conf.faults, &call) {
        Ok(f) => f,
        Err(e) => {
            journal(&root, &call, &format!("error:{}", e.kind));
            return fail(&e);
        }
    };
    if fault == Some(faults::Mode::Drop) {
        journal(&root, &call, "fault:drop");
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><ok/></doc>\n"
        );
        let _ = out.flush();
        return 0;
    }
    match funcs::execute(&root, &conf, &call) {
        Ok(_) if fault == Some(faults::Mode::FailAfter) => {
            journal(&root, &call, "fault:fail_after");
            fail(&SimError::new(
                "fault",
                call.func.clone(),
                "applied, then failed (Fault fail_after in billmgr-sim.conf)",
            ))
        }
        Ok(body) => {
            journal(&root, &call, "ok");
            let mut out = std::io::stdout().lock();
            let _ = write!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc>{body}</doc>\n"
            );
            let _ = out.flush();
            0
        }
        Err(e) => {
            journal(&root, &call, &format!("error:{}", e.kind));
            fail(&e)
        }
    }
}

fn fail(e: &SimError) -> i32 {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(e.document().as_bytes());
    let _ = out.flush();
    eprintln!("mgrctl: {} ({}): {}", e.kind, e.object, e.msg);
    1
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
    fn root_from_argv0() {
        if std::env::var_os("MGR5_ROOT").is_none() {
            assert_eq!(
                find_root("/x/y/sbin/mgrctl").unwrap(),
                PathBuf::from("/x/y")
            );
            assert!(find_root("/x/y/bin/billmgr-sim").is_err());
        }
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
