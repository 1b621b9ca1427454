//! `$MGR5_ROOT/etc/billmgr-sim.conf`: the stand-in's settings, one
//! `Name value` per line in the style of BILLmanager's own `billmgr.conf`.
//!
//! ```text
//! # database the stand-in applies calls to, and answers in `paramlist`
//! DBHost localhost
//! DBUser root
//! DBPassword
//! DBName pmss_t_1234_0
//! DBSocket /run/mysqld/mysqld.sock
//! # task.gettype: type per operation; "-" = no task type
//! TaskType open ssl_open_failed
//! TaskType close -
//! # faulty writes (faults.rs): drop = <ok/> without storing; fail_after = stored, then an error;
//! # delay:<ms> = applied and answered that much later
//! Fault drop service.saveparam:pmss_intent 1
//! # core mode (server.rs): calls go to a long-lived core holding the connections
//! Core on
//! # the core stops after this many seconds without a call (default 10)
//! CoreIdle 10
//! ```
//!
//! Empty values are allowed (`DBPassword` with nothing after it). Unknown
//! names are an error, so a typo never goes unnoticed.

use std::collections::BTreeMap;
use std::path::Path;

use super::faults::Rule;
use super::SimError;

/// Keys answered by `paramlist`, in this order.
pub const DB_KEYS: &[&str] = &["DBHost", "DBUser", "DBPassword", "DBName", "DBSocket"];

#[derive(Debug, Clone, Default)]
pub struct Conf {
    /// `DB*` settings as written.
    pub db: BTreeMap<String, String>,
    /// operation → task type (`None`: BILLmanager answers no type).
    pub task_types: BTreeMap<String, Option<String>>,
    /// Faulty writes, in file order.
    pub faults: Vec<Rule>,
    /// `CoreIdle N`: the core stops after N seconds without a call.
    pub core_idle_secs: Option<u64>,
}

/// How long a core waits for the next call before it stops, unless `CoreIdle` says.
pub const DEFAULT_CORE_IDLE_SECS: u64 = 10;

impl Conf {
    pub fn load(root: &Path) -> Result<Conf, SimError> {
        let path = root.join("etc").join("billmgr-sim.conf");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            SimError::new(
                "config",
                "billmgr-sim.conf",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        Conf::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Conf, SimError> {
        let mut conf = Conf::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = match line.split_once(char::is_whitespace) {
                Some((n, v)) => (n, v.trim()),
                None => (line, ""),
            };
            if DB_KEYS.contains(&name) {
                conf.db.insert(name.to_string(), value.to_string());
            } else if name == "TaskType" {
                let (op, ty) = value.split_once(char::is_whitespace).ok_or_else(|| {
                    SimError::new(
                        "config",
                        "TaskType",
                        format!("line {}: TaskType needs <operation> <type|->", n + 1),
                    )
                })?;
                let ty = ty.trim();
                conf.task_types
                    .insert(op.to_string(), (ty != "-").then(|| ty.to_string()));
            } else if name == "Core" {
                // Which mode a call takes is decided before this file is parsed (wire::core_on);
                // here only a wrong value is caught.
                if !["on", "off"].contains(&value) {
                    return Err(SimError::new(
                        "config",
                        "Core",
                        format!("line {}: Core must be on or off, got '{value}'", n + 1),
                    ));
                }
            } else if name == "CoreIdle" {
                let secs = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| {
                        SimError::new(
                            "config",
                            "CoreIdle",
                            format!(
                            "line {}: CoreIdle must be a positive number of seconds, got '{value}'",
                            n + 1
                        ),
                        )
                    })?;
                conf.core_idle_secs = Some(secs);
            } else if name == "Fault" {
                let rule = Rule::parse(value).map_err(|m| {
                    SimError::new("config", "Fault", format!("line {}: {m}", n + 1))
                })?;
                conf.faults.push(rule);
            } else {
                return Err(SimError::new(
                    "config",
                    name,
                    format!("line {}: unknown setting '{name}'", n + 1),
                ));
            }
        }
        Ok(conf)
    }

    pub fn db(&self, key: &str) -> Option<&str> {
        self.db
            .get(key)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    /// How long the core waits for a call before it stops.
    pub fn core_idle(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.core_idle_secs.unwrap_or(DEFAULT_CORE_IDLE_SECS))
    }

    /// The task type for a failed `operation`: configured, else a default
    /// per operation so tests always get one unless they switch it off.
    pub fn task_type(&self, operation: &str) -> Option<String> {
        match self.task_types.get(operation) {
            Some(t) => t.clone(),
            None => Some(format!("{operation}_failed")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_settings() {
        let c = Conf::parse(
            "# c\nDBHost localhost\nDBPassword\nDBName a b\nTaskType open t1\nTaskType close -\n",
        )
        .unwrap();
        assert_eq!(c.db("DBHost"), Some("localhost"));
        assert_eq!(c.db("DBPassword"), None);
        assert_eq!(c.db("DBName"), Some("a b"));
        assert_eq!(c.task_type("open").as_deref(), Some("t1"));
        assert_eq!(c.task_type("close"), None);
        assert_eq!(c.task_type("prolong").as_deref(), Some("prolong_failed"));
        assert!(Conf::parse("DBHots x\n").is_err());
        assert!(Conf::parse("TaskType open\n").is_err());
        let f = Conf::parse("Fault drop service.saveparam:pmss_intent *\n").unwrap();
        assert_eq!(f.faults.len(), 1);
        assert!(Conf::parse("Fault sometimes x\n").is_err());
        let c = Conf::parse("Core on\nCoreIdle 3\n").unwrap();
        assert_eq!(c.core_idle().as_secs(), 3);
        assert!(Conf::parse("Core off\n").is_ok());
        assert_eq!(Conf::parse("").unwrap().core_idle().as_secs(), 10);
        assert!(Conf::parse("Core yes\n").is_err());
        assert!(Conf::parse("CoreIdle 0\n").is_err());
    }
}
