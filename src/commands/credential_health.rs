//! Credential health: when the upstream keeps refusing the
//! module's login across runs (a password changed or expired upstream, two-
//! factor login switched on), the admin gets ONE problem in BILLmanager that
//! names the account and what to change, instead of only one failed
//! operation after another. The next answer that proves the login works
//! (`check_connection`, `getbalance`, a sync, any call) clears it.
//!
//! Every upstream answer reaches [`observe`] through the client's observer
//! ([`crate::upstream::set_auth_observer`], installed by [`install`]). State
//! per upstream account (URL + username, no password, never any secret) in
//! `$MGR5_ROOT/var/pmsslreseller/credentials-<digest>.json`; it exists only
//! while logins fail, so a working login costs one `stat`.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::billing::mgrctl::{problem_delete_call, problem_register_call, PairCall};
use crate::billing::{Mgrctl, ModuleSettings};
use crate::commands::lifecycle::intent::{digest, now_unix, unix_text};
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::error::Result;
use crate::upstream::{AuthOutcome, Endpoint};

/// Runs (processes) with a refused login before the problem is raised: one
/// refusal may be a password being changed at that moment; two runs in a row
/// are not.
pub const RUNS_BEFORE_PROBLEM: u32 = 2;

/// The problem name BILLmanager documents for connection-class errors
/// (module-protocol.md §10.3 and §11.3 item 4, L-MOD).
const PROBLEM_NAME: &str = "processingmodule_connect";

/// The register or clear call of the credential problem of `module`
/// (billing/mgrctl.rs `problem_register_call`, `problem_delete_call`: the
/// shape and the guess about clearing). A failed clear is logged with what
/// to do by hand.
pub fn problem_call(raise: bool, module: &ModuleRef, text: &str) -> PairCall {
    if raise {
        problem_register_call(
            PROBLEM_NAME,
            module.id,
            vec![
                ("param_pm_name", module.name.clone()),
                ("param_pm_id", module.id.to_string()),
            ],
            text.to_string(),
        )
    } else {
        problem_delete_call(PROBLEM_NAME, module.id)
    }
}

/// A processing module using an upstream account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRef {
    pub id: u64,
    pub name: String,
}

/// What is remembered about an account whose login fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub url: String,
    pub username: String,
    /// Processing modules seen using the account.
    #[serde(default)]
    pub modules: Vec<ModuleRef>,
    /// Runs with a refused login since the last accepted one.
    pub runs: u32,
    pub first_failure: String,
    pub last_failure: String,
    /// Process id of the last refused run (a run counts once).
    pub last_pid: u32,
    /// Modules the problem was registered for.
    #[serde(default)]
    pub raised: Vec<u64>,
}

impl State {
    /// The problem's text: which account, what to change.
    pub fn text(&self, module: &ModuleRef) -> String {
        format!(
            "the upstream {} refused the login of account '{}' in {} runs since {}: the password was changed or has expired there, or two-factor login was switched on. Enter the account's current username and password in Integration → Processing modules → '{}' (id {}) → settings, and switch two-factor login off for that account upstream. This problem clears itself at the next successful upstream call (check connection, getbalance, sync)",
            self.url, self.username, self.runs, self.first_failure, module.name, module.id
        )
    }
}

struct Installed {
    root: MgrRoot,
    mgrctl: Mgrctl,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();
static MODULES: Mutex<Vec<(String, String, ModuleRef)>> = Mutex::new(Vec::new());

/// Watch every upstream answer of this process.
pub fn install(root: &MgrRoot, config: &Config) {
    let _ = INSTALLED.set(Installed {
        root: root.clone(),
        mgrctl: Mgrctl::configured(root, config),
    });
    crate::upstream::set_auth_observer(observe_endpoint);
}

/// The module a client is built for (so a refusal can name it); called by
/// `commands::module::connect`.
pub fn note_module(settings: &ModuleSettings) {
    let Ok(endpoint) = Endpoint::parse(&settings.url) else {
        return;
    };
    let entry = (
        endpoint.to_string(),
        settings.username.trim().to_string(),
        ModuleRef {
            id: settings.id,
            name: settings.name.clone(),
        },
    );
    if let Ok(mut m) = MODULES.lock() {
        if !m.contains(&entry) {
            m.push(entry);
        }
    }
}

/// The state file of an upstream account.
pub fn state_path(root: &MgrRoot, url: &str, username: &str) -> PathBuf {
    root.state_dir().join(format!(
        "credentials-{}.json",
        digest(&format!("{url}\n{username}"))
    ))
}

fn observe_endpoint(endpoint: &Endpoint, username: &str, outcome: AuthOutcome) {
    let Some(inst) = INSTALLED.get() else { return };
    let url = endpoint.to_string();
    let modules: Vec<ModuleRef> = MODULES
        .lock()
        .map(|m| {
            m.iter()
                .filter(|(u, n, _)| *u == url && n == username)
                .map(|(_, _, r)| r.clone())
                .collect()
        })
        .unwrap_or_default();
    if let Err(e) = observe(&inst.root, &inst.mgrctl, &url, username, &modules, outcome) {
        log::warn!("credential health of upstream account '{username}': {e}");
    }
}

/// Whether the credential problem of processing `module` is registered:
/// then a lifecycle operation refused for its login stays automatic (no
/// task of its own; `lifecycle::failure`) and goes through by itself once
/// the login works — a refused login moved nothing, so a rerun cannot pay
/// twice.
pub fn problem_raised(module: u64) -> bool {
    let Some(inst) = INSTALLED.get() else {
        return false;
    };
    let Ok(dir) = std::fs::read_dir(inst.root.state_dir()) else {
        return false;
    };
    dir.flatten()
        .filter(|f| {
            let name = f.file_name();
            let name = name.to_string_lossy();
            name.starts_with("credentials-") && name.ends_with(".json")
        })
        .filter_map(|f| load(&f.path()))
        .any(|s| s.raised.contains(&module))
}

fn load(path: &std::path::Path) -> Option<State> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn save(path: &std::path::Path, state: &State) -> Result<()> {
    let io = |e: std::io::Error| {
        crate::protocol::error::ModuleError::new(
            crate::protocol::error::ErrorKind::Config,
            format!(
                "cannot write {}: {e} ({})",
                path.display(),
                crate::paths::write_hint(&e)
            ),
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let body = serde_json::to_string_pretty(state).unwrap_or_else(|_| "{}".into());
    std::fs::write(&tmp, body).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Raise or clear the problem of one module through mgrctl.
fn send(mgrctl: &Mgrctl, raise: bool, module: &ModuleRef, text: &str) -> Result<()> {
    let (func, params) = problem_call(raise, module, text);
    mgrctl.call_pairs(func, &params)
}

/// Record one outcome for the account; raise or clear the problem.
pub fn observe(
    root: &MgrRoot,
    mgrctl: &Mgrctl,
    url: &str,
    username: &str,
    modules: &[ModuleRef],
    outcome: AuthOutcome,
) -> Result<()> {
    let path = state_path(root, url, username);
    match outcome {
        AuthOutcome::Accepted => {
            if !path.exists() {
                return Ok(());
            }
            let state = load(&path);
            let _ = std::fs::remove_file(&path);
            let Some(state) = state else { return Ok(()) };
            log::info!(
                "upstream {url} accepts the login of account '{username}' again (after {} refused runs)",
                state.runs
            );
            for m in state
                .modules
                .iter()
                .filter(|m| state.raised.contains(&m.id))
            {
                match send(mgrctl, false, m, "") {
                    Ok(_) => log::info!("credential problem of processing module {} cleared", m.id),
                    Err(e) => log::warn!(
                        "could not clear the credential problem of processing module {} ({e}); remove it by hand in BILLmanager's problem list",
                        m.id
                    ),
                }
            }
            Ok(())
        }
        AuthOutcome::Refused => {
            let now = unix_text(now_unix());
            let pid = std::process::id();
            let mut state = load(&path).unwrap_or_else(|| State {
                url: url.to_string(),
                username: username.to_string(),
                modules: Vec::new(),
                runs: 0,
                first_failure: now.clone(),
                last_failure: now.clone(),
                last_pid: 0,
                raised: Vec::new(),
            });
            for m in modules {
                if !state.modules.contains(m) {
                    state.modules.push(m.clone());
                }
            }
            if state.last_pid != pid {
                state.runs += 1;
                state.last_pid = pid;
            }
            state.last_failure = now;
            if state.runs >= RUNS_BEFORE_PROBLEM {
                let pending: Vec<ModuleRef> = state
                    .modules
                    .iter()
                    .filter(|m| !state.raised.contains(&m.id))
                    .cloned()
                    .collect();
                for m in pending {
                    let text = state.text(&m);
                    match send(mgrctl, true, &m, &text) {
                        Ok(_) => {
                            log::error!("credential problem registered for processing module {}: {text}", m.id);
                            state.raised.push(m.id);
                        }
                        Err(e) => log::warn!(
                            "could not register the credential problem of processing module {}: {e}",
                            m.id
                        ),
                    }
                }
            }
            save(&path, &state)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_problem_text_names_account_module_and_fix() {
        let s = State {
            url: "https://up.example/billmgr".into(),
            username: "reseller".into(),
            modules: vec![],
            runs: 2,
            first_failure: "2026-12-02 10:00:00".into(),
            last_failure: "2026-12-02 10:15:00".into(),
            last_pid: 1,
            raised: vec![],
        };
        let m = ModuleRef {
            id: 3,
            name: "Upstream SSL".into(),
        };
        let t = s.text(&m);
        for want in [
            "'reseller'",
            "https://up.example/billmgr",
            "'Upstream SSL' (id 3)",
            "password",
            "two-factor",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        let (func, params) = problem_call(true, &m, &t);
        assert_eq!(func, "problems.register");
        assert!(params.contains(&("name", "processingmodule_connect".to_string())));
        assert!(params.contains(&("param_pm_id", "3".to_string())));
    }

    /// One outcome for the account `r` at `https://u/billmgr` (no mgrctl
    /// there: registering fails, which is logged, not fatal).
    fn see(root: &MgrRoot, outcome: AuthOutcome) {
        let mgrctl = Mgrctl::new(root);
        observe(root, &mgrctl, "https://u/billmgr", "r", &[], outcome).unwrap();
    }

    #[test]
    fn a_working_login_without_state_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        see(&root, AuthOutcome::Accepted);
        assert!(!root.state_dir().exists());
    }

    #[test]
    fn refusals_in_one_run_count_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        for _ in 0..3 {
            see(&root, AuthOutcome::Refused);
        }
        let path = state_path(&root, "https://u/billmgr", "r");
        let s = load(&path).unwrap();
        assert_eq!(s.runs, 1);
        assert!(!std::fs::read_to_string(&path)
            .unwrap()
            .contains("password\""));
        see(&root, AuthOutcome::Accepted);
        assert!(!path.exists());
    }
}
