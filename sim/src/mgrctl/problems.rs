//! BILLmanager's problem register as the stand-in keeps it:
//! `problems.register name id param_* level sok` (module-protocol.md §10.3,
//! L-MOD) adds or replaces the problem `<name>:<id>`; `problems.delete name
//! id sok` — the module's guess of how a problem is taken back
//! (`commands::credential_health::problem_call`) — removes it. Where the real
//! BILLmanager stores problems is unknown, so no table: the register lives
//! in `$MGR5_ROOT/var/mgrctl-problems.json` (`{"<name>:<id>": {params}}`),
//! for tests to read.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Call, SimError};

type Register = BTreeMap<String, BTreeMap<String, String>>;

const FILE: &str = "mgrctl-problems.json";

fn err(e: impl std::fmt::Display) -> SimError {
    SimError::new("config", FILE, e.to_string())
}

fn key(call: &Call) -> Result<String, SimError> {
    let name = call.get("name").filter(|n| !n.is_empty()).ok_or_else(|| {
        SimError::new("missed", "name", format!("{}: name is required", call.func))
    })?;
    let id = call.get("id").unwrap_or("");
    Ok(format!("{name}:{id}"))
}

/// Apply a `problems.*` call; `None` when `func` is not one.
pub fn execute(root: &Path, call: &Call) -> Option<Result<String, SimError>> {
    if !call.func.starts_with("problems.") {
        return None;
    }
    Some(apply(root, call))
}

fn apply(root: &Path, call: &Call) -> Result<String, SimError> {
    let path = root.join("var").join(FILE);
    let mut reg: Register = match std::fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t).map_err(err)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Register::new(),
        Err(e) => return Err(err(e)),
    };
    let key = key(call)?;
    match call.func.as_str() {
        "problems.register" => {
            for (k, _) in &call.params {
                let known =
                    ["name", "id", "level", "sok"].contains(&k.as_str()) || k.starts_with("param_");
                if !known {
                    return Err(SimError::new(
                        "value",
                        k.clone(),
                        format!("problems.register: unknown parameter '{k}'"),
                    ));
                }
            }
            let params = call
                .params
                .iter()
                .filter(|(k, _)| k != "sok")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            reg.insert(key, params);
        }
        "problems.delete" => {
            reg.remove(&key);
        }
        other => {
            return Err(SimError::new(
                "unknown_function",
                other,
                format!("function '{other}' is not known to the mgrctl stand-in"),
            ))
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let body = serde_json::to_string_pretty(&reg).map_err(err)?;
    std::fs::write(&path, body).map_err(err)?;
    Ok("<ok/>".into())
}
