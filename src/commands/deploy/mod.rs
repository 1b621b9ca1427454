//! The deploy hook (`[deploy] command`), in the manner of certbot's
//! `--deploy-hook`: run once for every new certificate of a service — the
//! first issue, an automatic reissue, a reissue the customer asked for —
//! with the certificate's facts and files in its environment.
//!
//! **When.** Every `certificate.save` of a new certificate (reconcile/apply.rs)
//! first leaves a *marker* for it: `var/pmsslreseller/deploy/item-<N>/<G>.json`,
//! `G` the generation (a digest of the leaf). The hook runs for a marker that
//! is not finished, at the end of `sync_item` and of the cron `sync` — after
//! the pass's upstream and intent work, outside the item lock (a slow hook
//! never holds up BILLmanager's operations on the item, and never repeats a
//! money call: it makes none). A marker for a certificate no longer saved
//! locally is left alone.
//!
//! **Once.** The attempt is counted in the marker before the hook starts (so
//! kills and reruns never run it more than `max_attempts` times), with the
//! hook's process group once it runs: a rerun while that group lives waits
//! for it; after it, the killed attempt counts as failed and is retried.
//! Success finishes the marker: no later run deploys that certificate again
//! (`pmsslreseller deploy --item N` runs it by hand). After the last failed
//! attempt one admin problem is raised ([`problem_call`]).
//!
//! **Bounded.** `/bin/sh -c` in its own process group, killed whole at
//! `timeout_secs`; a cleared environment; files in a private 0700 directory
//! (the key, with `include_key`, 0600) removed afterwards; output into the
//! log, with key lines and known secrets masked. A failed hook never fails
//! the BILLmanager operation: it is logged, shown in the form, retried.

pub mod files;
pub mod hook;
pub mod text;

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::billing::mgrctl::{problem_delete_call, problem_register_call, PairCall};
use crate::billing::{CryptKey, Db, Mgrctl};
use crate::commands::Ctx;
use crate::config::{Config, FormLanguage};
use crate::issued;
use crate::lock::{lock_within, open_lock_file};
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::vocab::item_params::{ALTNAME_PARAM, CN_PARAM, DEPLOY_PARAM, NEW_CERTIFICATE_PARAM};
use hook::Ended;

/// Where a certificate's deployment stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Saved, not deployed yet.
    #[default]
    Pending,
    /// An attempt started (its group in `pgid` once the hook runs).
    Running,
    /// The last attempt failed; the next sync tries again.
    Failed,
    Done,
    /// `max_attempts` failed; one problem raised.
    GaveUp,
}

/// One certificate generation's deployment record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub generation: String,
    pub state: State,
    pub attempts: u32,
    #[serde(default)]
    pub pgid: Option<i32>,
    /// The form line of the last attempt.
    #[serde(default)]
    pub last: String,
    #[serde(default)]
    pub problem: bool,
}

/// A certificate's generation: a digest of its leaf (the same certificate in
/// any shape or wrapping is one generation), else of its text.
pub fn generation(crt: &str) -> String {
    let bytes = match issued::parse(crt) {
        Ok(i) => Sha256::digest(&i.leaf),
        Err(_) => {
            let norm: String = crt.split_whitespace().collect();
            Sha256::digest(norm.as_bytes())
        }
    };
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn item_dir(root: &MgrRoot, item: u64) -> PathBuf {
    root.deploy_dir().join(format!("item-{item}"))
}

fn marker_path(root: &MgrRoot, item: u64, generation: &str) -> PathBuf {
    item_dir(root, item).join(format!("{generation}.json"))
}

fn read_marker(path: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(m) => Some(m),
        Err(e) => {
            log::warn!(
                "deploy marker {} is unreadable ({e}); that certificate is not deployed automatically \
                 (pmsslreseller deploy --item N runs the hook by hand)",
                path.display()
            );
            None
        }
    }
}

fn write_marker(path: &Path, m: &Marker) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| files::write_error(dir, &e))?;
    }
    let text = serde_json::to_string(m).unwrap_or_default();
    crate::paths::write_atomic(path, text.as_bytes()).map_err(|e| files::write_error(path, &e))
}

/// A new certificate is about to be saved for `item` (reconcile/apply.rs):
/// leave its marker, when a hook is configured. Before the save, so a run
/// killed in between still deploys it once the next pass has saved it.
/// A marker that cannot be written is logged, never an error of the sync.
pub fn note_new_certificate(root: &MgrRoot, config: &Config, item: u64, crt: &str) {
    if !config.deploy.on() {
        return;
    }
    let generation = generation(crt);
    let path = marker_path(root, item, &generation);
    if path.exists() {
        return;
    }
    let marker = Marker {
        generation,
        ..Marker::default()
    };
    if let Err(e) = write_marker(&path, &marker) {
        log::error!(
            "item {item}: the new certificate will not be deployed automatically: {e}; run \
             pmsslreseller deploy --item {item}"
        );
    }
}

/// Items with a marker not finished (pending, running, failed), from the
/// marker directory alone.
pub fn open_items(root: &MgrRoot) -> Vec<u64> {
    let Ok(dirs) = std::fs::read_dir(root.deploy_dir()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in dirs.flatten() {
        let name = d.file_name().to_string_lossy().into_owned();
        let Some(item) = name
            .strip_prefix("item-")
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let Ok(markers) = std::fs::read_dir(d.path()) else {
            continue;
        };
        let open = markers.flatten().any(|m| {
            m.path().extension().is_some_and(|e| e == "json")
                && read_marker(&m.path()).is_some_and(|m| {
                    matches!(m.state, State::Pending | State::Running | State::Failed)
                })
        });
        if open {
            out.push(item);
        }
    }
    out.sort_unstable();
    out
}

/// Files that could not be made from what the upstream gave, and why.
pub type Missing = Vec<(&'static str, String)>;

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub item: u64,
    pub attempt: u32,
    pub ended: Ended,
    /// The form line written.
    pub form: String,
    /// Files the hook got, and those that could not be made (and why).
    pub missing: Missing,
}

/// Deploy what is pending for each of `items` (the cron `sync`, `sync_item`).
/// Every failure is logged and stays with its item.
pub fn run_pending(ctx: &Ctx, mgrctl: &Mgrctl, db: &mut Db, items: &[u64]) {
    if !ctx.config.deploy.on() {
        return;
    }
    for &item in items {
        match attempt(ctx, mgrctl, db, item, false) {
            Ok(_) => {}
            Err(e) => log::error!("item {item}: deploy hook: {e}"),
        }
    }
}

/// `pmsslreseller deploy --item N`: run the hook now for the certificate
/// saved locally, whatever its marker says (a new attempt, not capped).
pub fn by_hand(ctx: &Ctx, item: u64) -> Result<Attempt> {
    if !ctx.config.deploy.on() {
        return Err(ModuleError::new(
            ErrorKind::Config,
            "no deploy hook is configured: set [deploy] command in etc/pmsslreseller.toml",
        ));
    }
    let mgrctl = Mgrctl::configured(&ctx.root, &ctx.config);
    let mut db = Db::connect(&mgrctl)?;
    attempt(ctx, &mgrctl, &mut db, item, true)?.ok_or_else(|| {
        ModuleError::new(
            ErrorKind::Locked,
            format!("another run is deploying item {item} now; try again when it has finished"),
        )
    })
}

/// `pmsslreseller files --item N --out DIR`: the customer's files of the
/// certificate saved locally, for support staff who send them. `DIR` is
/// made when missing; an existing file in it is never overwritten.
pub fn files_for(ctx: &Ctx, item: u64, out: &Path) -> Result<files::Written> {
    let mgrctl = Mgrctl::configured(&ctx.root, &ctx.config);
    let mut db = Db::connect(&mgrctl)?;
    let crt = saved_certificate(&mut db, item)?;
    let issued = issued::parse(&crt).map_err(|e| {
        ModuleError::new(
            ErrorKind::Billing,
            format!("item {item}: the saved certificate cannot be read: {e}"),
        )
        .with_object(format!("item {item}"))
    })?;
    std::fs::create_dir_all(out).map_err(|e| files::write_error(out, &e))?;
    files::write(out, &issued, 0o644)
}

/// The certificate saved locally for `item`, or why there is none.
pub fn saved_certificate(db: &mut Db, item: u64) -> Result<String> {
    db.certificate(item)?.and_then(|c| c.crt).ok_or_else(|| {
        ModuleError::new(
            ErrorKind::Billing,
            format!("item {item} has no issued certificate saved in BILLmanager"),
        )
        .with_object(format!("item {item}"))
    })
}

/// One attempt for `item`. `Ok(None)`: nothing to do now (no hook due, or
/// another run deploying it).
fn attempt(
    ctx: &Ctx,
    mgrctl: &Mgrctl,
    db: &mut Db,
    item: u64,
    forced: bool,
) -> Result<Option<Attempt>> {
    let cfg = &ctx.config.deploy;
    let lang = ctx.config.form.language;
    let (lock_file, _) = open_lock_file(&ctx.root.lock_dir(), &format!("deploy-{item}.lock"))?;
    if !lock_within(&lock_file, Duration::ZERO).unwrap_or(false) {
        log::info!("item {item}: another run is deploying it; skipped");
        return Ok(None);
    }
    // A service closed since its certificate was saved gets no deployment
    // of its own accord (by hand it still can).
    if !forced && db.item(item)?.item_status() == crate::vocab::ItemStatus::Deleted {
        return Ok(None);
    }
    let crt = match saved_certificate(db, item) {
        Ok(c) => c,
        Err(e) if forced => return Err(e),
        Err(_) => return Ok(None),
    };
    let generation = generation(&crt);
    let path = marker_path(&ctx.root, item, &generation);
    let mut marker = match read_marker(&path) {
        Some(m) => m,
        None if forced => Marker {
            generation: generation.clone(),
            ..Marker::default()
        },
        None => return Ok(None),
    };
    if !forced {
        // Why the attempts so far ended, should the cap stop the next one.
        let ended = match marker.state {
            State::Done | State::GaveUp => return Ok(None),
            State::Running => {
                if let Some(g) = marker.pgid.filter(|g| hook::group_alive(*g)) {
                    log::warn!(
                        "item {item}: the deploy hook of an earlier run (process group {g}) is still \
                         running; not started again"
                    );
                    return Ok(None);
                }
                log::warn!(
                    "item {item}: deploy attempt {} was interrupted (the run was killed); counted as failed",
                    marker.attempts
                );
                // The killed run's files (the private key among them) go
                // now, whether or not another attempt follows.
                remove_run_dirs(&ctx.root, item);
                let why = text::interrupted(lang);
                marker.last =
                    text::will_retry(lang, &stamp(), &why, marker.attempts, cfg.max_attempts);
                why
            }
            State::Pending | State::Failed => text::earlier_failed(lang),
        };
        if marker.attempts >= cfg.max_attempts {
            give_up(ctx, mgrctl, item, &path, &mut marker, &ended)?;
            return Ok(None);
        }
    }
    // A certificate the files cannot be made from: no hook to run, one problem.
    if let Err(e) = issued::parse(&crt) {
        let why = format!("the saved certificate cannot be read: {e}");
        log::error!("item {item}: deploy hook not run: {why}");
        give_up(ctx, mgrctl, item, &path, &mut marker, &why)?;
        return Err(ModuleError::new(
            ErrorKind::Billing,
            format!("item {item}: {why}"),
        ));
    }
    // Counted before the hook starts: kills and reruns never run it more often.
    marker.attempts += 1;
    marker.state = State::Running;
    marker.pgid = None;
    write_marker(&path, &marker)?;
    let n = marker.attempts;
    let (ended, missing) = run_hook(ctx, db, item, &crt, &mut |pgid| {
        let mut m = marker.clone();
        m.pgid = Some(pgid);
        if let Err(e) = write_marker(&path, &m) {
            log::warn!("item {item}: deploy marker not updated: {e}");
        }
    })?;
    let when = stamp();
    let form = if ended.ok() {
        marker.state = State::Done;
        text::deployed(lang, &when)
    } else {
        let why = text::why(lang, &ended);
        if !forced && n >= cfg.max_attempts {
            marker.pgid = None;
            marker.last.clear();
            give_up(ctx, mgrctl, item, &path, &mut marker, &why)?;
            return Ok(Some(Attempt {
                item,
                attempt: n,
                ended,
                form: marker.last.clone(),
                missing,
            }));
        }
        marker.state = State::Failed;
        text::will_retry(lang, &when, &why, n, cfg.max_attempts)
    };
    marker.pgid = None;
    marker.last = form.clone();
    write_marker(&path, &marker)?;
    mgrctl.saveparam(item, DEPLOY_PARAM, &form)?;
    if ended.ok() {
        // The customer's notice ends with the deployment.
        mgrctl.saveparam(item, NEW_CERTIFICATE_PARAM, "")?;
        forget_older(&ctx.root, item, &generation);
        if marker.problem {
            take_back_problem(mgrctl, item, &path, &mut marker);
        }
    }
    Ok(Some(Attempt {
        item,
        attempt: n,
        ended,
        form,
        missing,
    }))
}

/// The last attempt failed: the marker says so, the form too, and one admin
/// problem is raised (once per certificate).
fn give_up(
    ctx: &Ctx,
    mgrctl: &Mgrctl,
    item: u64,
    path: &Path,
    marker: &mut Marker,
    why: &str,
) -> Result<()> {
    let max = ctx.config.deploy.max_attempts;
    let lang = ctx.config.form.language;
    marker.state = State::GaveUp;
    marker.last = text::gave_up(lang, &stamp(), why, max, item);
    if !marker.problem {
        let message = format!(
            "the deploy hook failed {max} times for the current certificate of service {item} (last: {why}); \
             it is not run again automatically. See var/pmsslreseller.log, fix the hook, then run \
             pmsslreseller deploy --item {item}"
        );
        let (func, params) = problem_call(item, &message);
        match mgrctl.call_pairs(func, &params) {
            Ok(_) => marker.problem = true,
            Err(e) => log::error!("item {item}: the deploy problem could not be registered: {e}"),
        }
        log::error!("item {item}: {message}");
    }
    write_marker(path, marker)?;
    mgrctl.saveparam(item, DEPLOY_PARAM, &marker.last)?;
    Ok(())
}

/// The problem's name in BILLmanager's problem list: ours (only
/// `processingmodule_connect` is documented, module-protocol.md §10.3).
const PROBLEM_NAME: &str = "pmsslreseller_deploy";

/// The admin problem of a hook given up, one per service
/// (billing/mgrctl.rs `problem_register_call`; `param_item` is our name).
pub fn problem_call(item: u64, text: &str) -> PairCall {
    problem_register_call(
        PROBLEM_NAME,
        item,
        vec![("param_item", item.to_string())],
        text.to_string(),
    )
}

/// A deployment that works again takes its problem back: `problems.delete`
/// with the problem's name and id (billing/mgrctl.rs
/// `problem_delete_call`). A failed delete is logged
/// with what to do by hand.
fn take_back_problem(mgrctl: &Mgrctl, item: u64, path: &Path, marker: &mut Marker) {
    let (func, params) = problem_delete_call(PROBLEM_NAME, item);
    match mgrctl.call_pairs(func, &params) {
        Ok(_) => {
            marker.problem = false;
            if let Err(e) = write_marker(path, marker) {
                log::warn!("item {item}: deploy marker not updated: {e}");
            }
            log::info!("item {item}: deployed; its deploy problem is cleared");
        }
        Err(e) => log::error!(
            "item {item}: deployed, but its deploy problem could not be cleared ({e}); remove it by hand in \
             BILLmanager's problem list"
        ),
    }
}

/// Markers of the item's older certificates are of no further use.
fn forget_older(root: &MgrRoot, item: u64, current: &str) {
    let Ok(entries) = std::fs::read_dir(item_dir(root, item)) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") && p.file_stem().is_some_and(|s| s != current)
        {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A stamp for the form. It decides nothing, but it stands next to the
/// certificate's own dates on the form, so it is read from the one clock
/// those are planned by (`clock::now`: the system clock in a release build).
fn stamp() -> String {
    crate::clock::now().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Make the files, run the hook, remove the files.
fn run_hook(
    ctx: &Ctx,
    db: &mut Db,
    item: u64,
    crt: &str,
    started: &mut dyn FnMut(i32),
) -> Result<(Ended, Missing)> {
    let cfg = &ctx.config.deploy;
    let issued = issued::parse(crt).map_err(|e| {
        ModuleError::new(
            ErrorKind::Billing,
            format!("item {item}: the saved certificate cannot be read: {e}"),
        )
    })?;
    let facts = crate::x509::facts_der(&issued.leaf).ok();
    let dir = fresh_run_dir(&ctx.root, item)?;
    let result = (|| -> Result<(Ended, Missing)> {
        let written = files::write(&dir, &issued, 0o600)?;
        let mut env = facts_env(ctx, db, item, facts.as_ref())?;
        env.push(("PMSS_DIR".into(), dir.display().to_string()));
        for (var, name) in [
            ("PMSS_LEAF", files::LEAF),
            ("PMSS_CHAIN", files::CHAIN),
            ("PMSS_FULLCHAIN", files::FULLCHAIN),
            ("PMSS_P7B", files::P7B),
        ] {
            if let Some(p) = written.path(name) {
                env.push((var.into(), p.display().to_string()));
            }
        }
        let mut key_lines = Vec::new();
        if cfg.include_key {
            match key_file(db, item, &dir)? {
                Ok((path, lines)) => {
                    env.push(("PMSS_KEY".into(), path.display().to_string()));
                    key_lines = lines;
                }
                Err(why) => {
                    log::warn!("item {item}: deploy hook: no private key given: {why}");
                    env.push(("PMSS_KEY_MISSING".into(), why));
                }
            }
        }
        let ran = hook::run(&cfg.command, &env, &dir, cfg.timeout(), started);
        log::info!(
            "item {item}: deploy hook ({}) ended: {:?} after {:.1} s",
            facts
                .as_ref()
                .map(|f| format!("certificate serial {}", f.serial))
                .unwrap_or_else(|| "certificate".into()),
            ran.ended,
            ran.seconds
        );
        for line in &ran.lines {
            log::info!(
                "item {item}: deploy hook: {}",
                redact_line(line, &key_lines)
            );
        }
        if ran.dropped > 0 {
            log::info!(
                "item {item}: deploy hook: {} more output lines not logged",
                ran.dropped
            );
        }
        Ok((ran.ended, written.missing))
    })();
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        log::error!(
            "item {item}: the deploy hook's files in {} were not removed: {e}",
            dir.display()
        );
    }
    result
}

/// A new private directory for one run (0700), after removing what a
/// killed run left behind (the caller holds the item's deploy lock, and no
/// earlier hook of the item is alive).
fn fresh_run_dir(root: &MgrRoot, item: u64) -> Result<PathBuf> {
    let base = root.deploy_dir();
    std::fs::create_dir_all(&base).map_err(|e| files::write_error(&base, &e))?;
    remove_run_dirs(root, item);
    let dir = base.join(format!("run-{item}-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| files::write_error(&dir, &e))?;
    Ok(dir)
}

/// What killed runs of `item`'s hook left behind (the caller holds the
/// item's deploy lock, and no earlier hook of the item is alive).
fn remove_run_dirs(root: &MgrRoot, item: u64) {
    let prefix = format!("run-{item}-");
    if let Ok(entries) = std::fs::read_dir(root.deploy_dir()) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                if let Err(err) = std::fs::remove_dir_all(e.path()) {
                    log::error!(
                        "item {item}: the deploy hook's files in {} were not removed: {err}",
                        e.path().display()
                    );
                }
            }
        }
    }
}

/// The key file (0600) and the key's lines (to keep out of the log), or why
/// no key is given.
fn key_file(
    db: &mut Db,
    item: u64,
    dir: &Path,
) -> Result<std::result::Result<(PathBuf, Vec<String>), String>> {
    let Some(key) = db.certificate_private_key(item)? else {
        return Ok(Err(
            "BILLmanager keeps no private key for this service (the customer made the CSR)".into(),
        ));
    };
    if !looks_like_private_key(key.expose()) {
        return Ok(Err(
            "the key BILLmanager keeps is not a PEM private key (it may be stored encrypted)"
                .into(),
        ));
    }
    let path = dir.join("key.pem");
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| files::write_error(&path, &e))?;
    f.write_all(key.expose().as_bytes())
        .map_err(|e| files::write_error(&path, &e))?;
    let lines = key
        .expose()
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        .map(str::to_string)
        .collect();
    Ok(Ok((path, lines)))
}

/// The one fact of BILLmanager's `certificate.pkey` we rely on: a PEM
/// private key in plain text (module-protocol.md §9.3, §12.3: modules read
/// it with `SELECT pkey …`; whether BILLmanager ever stores it encrypted is
/// not known). Anything else is not handed to a hook.
pub fn looks_like_private_key(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("-----BEGIN") && t.contains("PRIVATE KEY-----")
}

/// One output line for the log: key material and known secrets masked.
fn redact_line(line: &str, key_lines: &[String]) -> String {
    let t = line.trim();
    let key_like = t.contains("PRIVATE KEY")
        || key_lines
            .iter()
            .any(|k| t.contains(k.as_str()) || (t.len() >= 16 && k.contains(t)));
    if key_like {
        return crate::secret::MASK.to_string();
    }
    crate::secret::redact(line)
}

/// The facts in the hook's environment (README "Deploy hook").
fn facts_env(
    ctx: &Ctx,
    db: &mut Db,
    item: u64,
    facts: Option<&crate::x509::CertFacts>,
) -> Result<Vec<(String, String)>> {
    let key = CryptKey::load(&ctx.root)?;
    // The item must be ours; reading its module's settings also makes the
    // upstream password known to the log's redaction (`secret.rs`) before
    // any output of the hook is logged.
    let row = db.item(item)?;
    let module = row.processingmodule.ok_or_else(|| {
        ModuleError::new(
            ErrorKind::WrongModule,
            format!("item {item} has no processing module"),
        )
    })?;
    crate::commands::module::our_module_settings(db, &key, module)?;
    let params: BTreeMap<String, String> = db.item_params(item, &key)?;
    let account = db.item_account(item)?.unwrap_or_default();
    let cn = params.get(CN_PARAM).cloned().unwrap_or_default();
    let mut names: Vec<String> = vec![cn.clone()];
    for n in params
        .get(ALTNAME_PARAM)
        .map(|a| a.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names.retain(|n| !n.is_empty());
    let mut env = vec![
        ("PMSS_ITEM".to_string(), item.to_string()),
        ("PMSS_ACCOUNT".to_string(), account.id.to_string()),
        ("PMSS_ACCOUNT_NAME".to_string(), account.name),
        ("PMSS_EMAIL".to_string(), account.email),
        ("PMSS_CN".to_string(), cn),
        ("PMSS_NAMES".to_string(), names.join(" ")),
        (
            "PMSS_LANG".to_string(),
            lang_code(ctx.config.form.language).into(),
        ),
    ];
    if let Some(f) = facts {
        env.push(("PMSS_SERIAL".into(), f.serial.clone()));
        env.push(("PMSS_NOT_BEFORE".into(), f.not_before.to_string()));
        env.push(("PMSS_NOT_AFTER".into(), f.not_after.to_string()));
    }
    Ok(env)
}

fn lang_code(lang: FormLanguage) -> &'static str {
    match lang {
        FormLanguage::En => "en",
        FormLanguage::Ru => "ru",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_are_masked() {
        let key = vec!["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC".to_string()];
        assert_eq!(redact_line("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", &key), "***");
        assert_eq!(redact_line("-----BEGIN PRIVATE KEY-----", &[]), "***");
        assert_eq!(redact_line("installed", &key), "installed");
    }

    #[test]
    fn marker_round_trips() {
        let m = Marker {
            generation: "ab".into(),
            state: State::Failed,
            attempts: 2,
            pgid: Some(7),
            last: "x".into(),
            problem: false,
        };
        let t = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Marker>(&t).unwrap(), m);
    }
}
