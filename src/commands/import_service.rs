//! Service import (`--command import`, `pmsslreseller import`): certificates
//! that already exist at the upstream (ordered by hand, or by another module)
//! become local services linked to them, so the lifecycle takes over.
//! Nothing is ordered or paid: the only upstream calls are the list and
//! per-certificate views.
//!
//! Safety of reruns: each service is created by ONE `processing.import.service`
//! call that carries the upstream id as an item param (module-protocol.md
//! §10.6 passes item params in the same call), so a service never exists
//! without its link, and a second run sees the link and skips it. A call
//! whose outcome is not known (no answer in time, no service id) is marked
//! before it is sent (`import_pending`): no second call for that certificate
//! inside the settle window, and after it only when no local service carries
//! the upstream id. A certificate that may be the order of a local service
//! whose `open` is still being settled (its intent sent, no upstream id) is
//! left to that `open`. A run killed after creating a service but before
//! saving its certificate is finished by the next run (services marked
//! [`IMPORTED_PARAM`]). Two runs at once serialise on a per-module lock file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::time::Duration;

use chrono::NaiveDate;

use crate::commands::import_pending::Pending;
use crate::commands::lifecycle::intent::{Intent, IntentOp, Phase};
use crate::commands::lifecycle::job::ITEMTYPE;
use crate::commands::lifecycle::reconcile::may_be_order;
use crate::commands::lifecycle::status_map::{
    local_status, map_upstream, status_name, UpstreamState,
};
use crate::commands::module::{open_module, OpenModule};
use crate::config::Config;
use crate::lock::{lock_within, open_lock_file};
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{is_possible_id, CertView};
use crate::vocab::item_params::INTENT_PARAM;
use crate::vocab::item_params::{
    ALTNAME_PARAM, CN_PARAM, IMPORTED_PARAM, SERVICE_STATUS_PARAM, UPSTREAM_ID_PARAM,
};
use crate::vocab::{ItemStatus, Period};

use super::lifecycle::status_map::ServiceStatus;

/// The one place for the names of `processing.import.service`
/// (module-protocol.md §10.6, L-REG/RUTLD/OP-SSL). Confirmed there: the
/// function, `module`, `import_itemtype_intname`, `import_pricelist_intname`,
/// `import_service_name`, `status`, `service_status`, `expiredate`, `period`,
/// item params as further keys, and the answer `service_id`. OUR GUESS (no
/// source shows them): `opendate` and `account` (the local client owning the
/// service); without `--account` the key is left out and BILLmanager decides.
pub mod wire {
    pub const FUNC: &str = "processing.import.service";
    pub const MODULE: &str = "module";
    pub const ITEMTYPE: &str = "import_itemtype_intname";
    pub const PRICELIST: &str = "import_pricelist_intname";
    pub const SERVICE_NAME: &str = "import_service_name";
    pub const STATUS: &str = "status";
    pub const SERVICE_STATUS: &str = "service_status";
    pub const EXPIREDATE: &str = "expiredate";
    pub const PERIOD: &str = "period";
    /// Guess (§10.6 does not list it).
    pub const OPENDATE: &str = "opendate";
    /// Guess (§10.6 does not list it).
    pub const ACCOUNT: &str = "account";
    pub const ANSWER_ID: &str = "service_id";
}

/// The local tariff for an upstream tariff id (the catalog's naming).
pub fn local_tariff_intname(upstream_tariff: u64) -> String {
    format!("ssl_{upstream_tariff}")
}

/// What the import should do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    pub dry_run: bool,
    /// Only this upstream certificate.
    pub upstream_id: Option<u64>,
    /// The local account (client) that gets the services.
    pub account: Option<u64>,
    /// Only certificates whose CN contains this (BILLmanager's `--searchstring`).
    pub search: Option<String>,
}

/// What happened to one upstream certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Created local service N.
    Linked(u64),
    /// Dry run: would be linked.
    WouldLink,
    /// Left alone, with the reason.
    Skipped(String),
    /// Imported earlier; this run saved what the earlier one did not.
    Completed(u64),
    /// Something went wrong for this one; the others went on.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub upstream_id: u64,
    pub cn: String,
    /// The local tariff, where known.
    pub tariff: String,
    /// The upstream state in words.
    pub state: String,
    pub action: Action,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub module: u64,
    pub dry_run: bool,
    pub rows: Vec<ImportRow>,
    /// Local services whose link BILLmanager's database holds unreadable
    /// values for (why, naming the column): while there are any, nothing new
    /// is linked.
    pub unreadable: Vec<String>,
}

impl ImportReport {
    fn count(&self, f: impl Fn(&Action) -> bool) -> usize {
        self.rows.iter().filter(|r| f(&r.action)).count()
    }

    pub fn linked(&self) -> usize {
        self.count(|a| matches!(a, Action::Linked(_) | Action::WouldLink))
    }

    pub fn failed(&self) -> usize {
        self.count(|a| matches!(a, Action::Failed(_)))
    }

    pub fn summary(&self) -> String {
        format!(
            "import module {}: {} upstream certificates, {} {}, {} completed, {} skipped, {} failed, {} local services unreadable",
            self.module,
            self.rows.len(),
            self.linked(),
            if self.dry_run { "would be linked" } else { "linked" },
            self.count(|a| matches!(a, Action::Completed(_))),
            self.count(|a| matches!(a, Action::Skipped(_))),
            self.failed(),
            self.unreadable.len()
        )
    }

    /// The table the admin CLI prints.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:>10}  {:<32}  {:<12}  {:<16}  {}\n",
            "UPSTREAM", "CN", "TARIFF", "UPSTREAM STATE", "ACTION"
        );
        for r in &self.rows {
            let action = match &r.action {
                Action::Linked(i) => format!("linked: service {i}"),
                Action::WouldLink => "would link".to_string(),
                Action::Completed(i) => format!("completed: service {i} (certificate saved)"),
                Action::Skipped(why) => format!("skipped: {why}"),
                Action::Failed(why) => format!("FAILED: {why}"),
            };
            out.push_str(&format!(
                "{:>10}  {:<32}  {:<12}  {:<16}  {}\n",
                r.upstream_id, r.cn, r.tariff, r.state, action
            ));
        }
        for u in &self.unreadable {
            out.push_str(&format!("local service unreadable: {u}\n"));
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

/// The item params that tell which upstream certificate a local service
/// owns, how far an earlier import got with it, and whether its own order
/// may still be unsettled (the intent, and the CN it was ordered for).
const LINK_PARAMS: &[&str] = &[
    UPSTREAM_ID_PARAM,
    IMPORTED_PARAM,
    SERVICE_STATUS_PARAM,
    INTENT_PARAM,
    CN_PARAM,
];

/// The local shape of one upstream certificate, or why it is not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub upstream_tariff: u64,
    pub item_status: ItemStatus,
    pub service_status: ServiceStatus,
    /// Months.
    pub period: u32,
}

/// Decide from the upstream view alone (tariff existence is checked after).
pub fn plan(view: &CertView, today: NaiveDate) -> std::result::Result<Planned, String> {
    match view.status {
        Some(ItemStatus::Deleted) => return Err("deleted upstream".into()),
        Some(ItemStatus::Ordered) => {
            return Err(
                "not paid at the upstream (ordered, in its cart): pay or delete it there first"
                    .into(),
            )
        }
        _ => {}
    }
    let target = map_upstream(UpstreamState {
        service_status: view.service_status,
        item_status: view.status,
        has_crt: view.crt.as_deref().is_some_and(|c| !c.trim().is_empty()),
    })
    .ok_or_else(|| {
        format!(
            "upstream state not understood (item_status {:?}, service_status {:?})",
            view.item_status, view.service_status
        )
    })?;
    if target == ServiceStatus::Failed {
        return Err("failed at the certificate authority: nothing to manage".into());
    }
    let upstream_tariff = view
        .pricelist
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| {
            format!(
                "upstream tariff '{}' is not an id",
                crate::quote::quote(&view.pricelist)
            )
        })?;
    // BILLmanager's own import code marks expired services suspended (§9.4).
    let expired = view.expiredate.is_some_and(|e| e < today);
    let item_status = if expired || view.status == Some(ItemStatus::Suspended) {
        ItemStatus::Suspended
    } else {
        ItemStatus::Active
    };
    // The local service is billed for the upstream's period. One that is not
    // whole months (a trial, lifetime, daily: `vocab::period`) is no term
    // a local service can be renewed for, so it is not imported. An upstream
    // that shows no period: 12 months, which the admin can change.
    let period = match view.period.map(Period::from_db) {
        None => 12,
        Some(Period::Months(m)) => m,
        Some(other) => {
            return Err(format!(
                "the upstream period is {other}: not imported; create the service by hand if it is wanted"
            ))
        }
    };
    Ok(Planned {
        upstream_tariff,
        item_status,
        service_status: target,
        period,
    })
}

fn state_words(status: Option<ItemStatus>, service_status: Option<u8>) -> String {
    let s = match status {
        Some(ItemStatus::Ordered) => "ordered",
        Some(ItemStatus::Active) => "active",
        Some(ItemStatus::Suspended) => "suspended",
        Some(ItemStatus::Deleted) => "deleted",
        Some(ItemStatus::Processing) => "processing",
        _ => "unknown",
    };
    match service_status.and_then(ServiceStatus::from_code) {
        Some(ss) => format!("{s}/{}", status_name(ss)),
        None => s.to_string(),
    }
}

/// One import run at a time per module.
struct ImportLock(#[allow(dead_code)] File);

impl ImportLock {
    fn acquire(root: &MgrRoot, module: u64) -> Result<ImportLock> {
        let (file, path) =
            open_lock_file(&root.lock_dir(), &format!("import-module-{module}.lock"))?;
        match lock_within(&file, Duration::ZERO) {
            Ok(true) => Ok(ImportLock(file)),
            Ok(false) => Err(ModuleError::new(
                ErrorKind::Locked,
                format!(
                    "another import of module {module} is running; run this one again when it has finished"
                ),
            )),
            Err(e) => Err(ModuleError::new(
                ErrorKind::Config,
                format!("cannot lock {}: {e}", path.display()),
            )),
        }
    }
}

/// A local service of the module, as the import sees it.
struct Local {
    item: u64,
    imported: bool,
    status: Option<ServiceStatus>,
}

/// A local service whose `open` ordered and lost the answer: its intent is
/// sent (or applied) and no upstream id is stored. The upstream certificate
/// may be that order, which its `open` adopts on its rerun.
struct PendingOrder {
    item: u64,
    intent: Intent,
}

impl PendingOrder {
    /// From one service's link params; `Err`: its intent cannot be read
    /// (it may hide such an order).
    fn of(
        item: u64,
        p: &BTreeMap<String, String>,
    ) -> std::result::Result<Option<PendingOrder>, String> {
        let intent = Intent::from_param(p.get(INTENT_PARAM).map(String::as_str)).map_err(|m| {
            format!(
                "service {item}: {m}; it may record an order still being settled: check the upstream \
                 account, then correct or delete the param"
            )
        })?;
        Ok(intent
            .filter(|i| i.op == IntentOp::Open && matches!(i.phase, Phase::Sent | Phase::Applied))
            .map(|mut intent| {
                if intent.cn.is_none() {
                    intent.cn = p.get(CN_PARAM).cloned();
                }
                PendingOrder { item, intent }
            }))
    }

    /// Could `view` be this order? The id the intent recorded, else (as the
    /// `open`'s own lookup decides) no other `remoteid`, the same CN, the
    /// same tariff where the upstream shows it, created on or after the
    /// intent's day minus one.
    fn may_be(&self, view: &CertView) -> bool {
        if let Some(id) = self.intent.upstream_id {
            return id == view.id;
        }
        let ours = self.item.to_string();
        view.remoteid
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .is_none_or(|r| r == ours)
            && may_be_order(
                &self.intent,
                &view.cn,
                &view.pricelist,
                view.createdate.as_deref(),
            )
    }
}

/// Run the import of module `module`.
pub fn import(
    root: &MgrRoot,
    config: &Config,
    module: u64,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    let OpenModule {
        mgrctl,
        mut db,
        key,
        settings,
    } = open_module(root, config, module)?;
    let _lock = ImportLock::acquire(root, module)?;
    if let Some(a) = opts.account {
        if !db.account_exists(a)? {
            return Err(ModuleError::value(
                "account",
                format!("local account {a} does not exist (Clients → Clients, column Id)"),
            ));
        }
    }
    let client = crate::commands::module::connect(&settings, config)?;
    let mut rows = client.certificate_list()?;
    rows.sort_by_key(|r| r.id);
    // Links of every local service of the module, whatever its state: a
    // closed service still owns its upstream certificate, and so does one
    // whose row BILLmanager's database holds unreadable values for (only its
    // id and params are needed here).
    let read = db.module_items(module)?;
    let local_ids: BTreeSet<String> = read.all_ids().map(|i| i.to_string()).collect();
    let mut params = db.module_item_params(module, LINK_PARAMS, &key)?;
    let mut linked: BTreeMap<u64, Local> = BTreeMap::new();
    let mut orders: Vec<PendingOrder> = Vec::new();
    let mut unreadable_intents: Vec<String> = Vec::new();
    for (item, p) in &params.by_item {
        match linked_id(p) {
            Some(uid) => {
                linked.insert(
                    uid,
                    Local {
                        item: *item,
                        imported: p.contains_key(IMPORTED_PARAM),
                        status: local_status(p.get(SERVICE_STATUS_PARAM).map(String::as_str)),
                    },
                );
            }
            None => match PendingOrder::of(*item, p) {
                Ok(Some(o)) => orders.push(o),
                Ok(None) => {}
                Err(why) => unreadable_intents.push(why),
            },
        }
    }
    // A service whose link cannot be read might own any upstream
    // certificate: nothing new is linked in this run, since a second service
    // for one certificate would be billed too and its close would delete the
    // other's certificate. The rest of the run (what is linked, completions)
    // goes on.
    let mut unreadable: Vec<String> = std::mem::take(&mut params.unreadable)
        .into_values()
        .map(|e| e.message)
        .collect();
    unreadable.extend(
        read.skipped
            .iter()
            .filter(|s| s.item.is_none())
            .map(|s| s.error.message.clone()),
    );
    unreadable.extend(unreadable_intents);
    for u in &unreadable {
        log::warn!("import module {module}: a local service cannot be read: {u}");
    }
    let ours = |rid: Option<&str>| {
        rid.map(str::trim)
            .filter(|r| local_ids.contains(*r))
            .map(str::to_string)
    };
    let today = crate::clock::today();
    let settle_secs = i64::try_from(config.lifecycle.settle_secs).unwrap_or(i64::MAX);
    // Calls whose outcome was not known: those now seen linked are over.
    let mut pending = Pending::load(root, module)?;
    if !opts.dry_run {
        for id in pending.ids() {
            if let Some(local) = linked.get(&id) {
                log::info!(
                    "import module {module}: upstream certificate {id} is linked to service {}; its \
                     import is settled",
                    local.item
                );
                pending.clear(id)?;
            }
        }
    }
    let mut report = ImportReport {
        module,
        dry_run: opts.dry_run,
        rows: Vec::new(),
        unreadable,
    };
    let blocked = (!report.unreadable.is_empty()).then(|| {
        format!(
            "not linked while {} local service(s) cannot be read (see above); fix them in BILLmanager, then import again",
            report.unreadable.len()
        )
    });
    if let Some(want) = opts.upstream_id {
        if !rows.iter().any(|r| r.id == want) {
            report.rows.push(ImportRow {
                upstream_id: want,
                cn: String::new(),
                tariff: String::new(),
                state: "not listed".into(),
                action: Action::Skipped(
                    "not in the certificate list of this upstream account".into(),
                ),
            });
        }
    }
    for row in &rows {
        if opts.upstream_id.is_some_and(|w| w != row.id) {
            continue;
        }
        if let Some(s) = opts.search.as_deref().filter(|s| !s.is_empty()) {
            if !row.cn.to_lowercase().contains(&s.to_lowercase()) {
                continue;
            }
        }
        let mut out = ImportRow {
            upstream_id: row.id,
            cn: row.cn.clone(),
            tariff: String::new(),
            state: state_words(row.status, None),
            action: Action::WouldLink,
        };
        if let Some(local) = linked.get(&row.id) {
            out.action = Action::Skipped(format!("already linked to service {}", local.item));
            if local.imported && local.status == Some(ServiceStatus::Issued) && !opts.dry_run {
                match complete(&client, &mgrctl, &mut db, local.item, row.id) {
                    Ok(true) => out.action = Action::Completed(local.item),
                    Ok(false) => {}
                    Err(e) => out.action = Action::Failed(e.to_string()),
                }
            }
            report.rows.push(out);
            continue;
        }
        if let Some(item) = ours(row.remoteid.as_deref()) {
            out.action = Action::Skipped(ordered_by_us(&item));
            report.rows.push(out);
            continue;
        }
        if row.status == Some(ItemStatus::Deleted) {
            out.action = Action::Skipped("deleted upstream".into());
            report.rows.push(out);
            continue;
        }
        let view = match client.certificate_view(row.id) {
            Ok(v) => v,
            Err(e) => {
                out.action = Action::Failed(ModuleError::from(e).to_string());
                report.rows.push(out);
                continue;
            }
        };
        out.state = state_words(view.status, view.service_status);
        if let Some(item) = ours(view.remoteid.as_deref()) {
            out.action = Action::Skipped(ordered_by_us(&item));
            report.rows.push(out);
            continue;
        }
        let settling: Vec<String> = orders
            .iter()
            .filter(|o| o.may_be(&view))
            .map(|o| o.item.to_string())
            .collect();
        if !settling.is_empty() {
            out.action = Action::Skipped(format!(
                "may be the order of service {} still being settled; run its open operation first",
                settling.join(" or ")
            ));
            report.rows.push(out);
            continue;
        }
        let planned = match plan(&view, today) {
            Ok(p) => p,
            Err(why) => {
                out.action = Action::Skipped(why);
                report.rows.push(out);
                continue;
            }
        };
        let tariff = local_tariff_intname(planned.upstream_tariff);
        out.tariff = tariff.clone();
        if let Some(why) = &blocked {
            out.action = Action::Skipped(why.clone());
            report.rows.push(out);
            continue;
        }
        if let Some(sent) = pending.get(row.id).cloned() {
            match earlier_import(
                &mut db,
                &key,
                module,
                row.id,
                &sent,
                settle_secs,
                opts.dry_run,
            )? {
                Earlier::Open => {}
                Earlier::Wait(why) => {
                    out.action = Action::Skipped(why);
                    report.rows.push(out);
                    continue;
                }
                Earlier::Landed(item) => {
                    pending.clear(row.id)?;
                    out.action = Action::Skipped(format!(
                        "already linked to service {item} (its earlier import was applied late)"
                    ));
                    report.rows.push(out);
                    continue;
                }
            }
        }
        match db.pricelist_by_intname(ITEMTYPE, &tariff)? {
            None => {
                out.action = Action::Skipped(format!(
                    "no local tariff {tariff}: create it (pmsslreseller catalog show lists the upstream tariffs), then import again"
                ));
            }
            Some(_) if opts.dry_run => {}
            Some(_) => {
                let linking = Linking {
                    mgrctl: &mgrctl,
                    module,
                    tariff: &tariff,
                    account: opts.account,
                    today,
                };
                out.action = match link_once(&linking, &mut db, &mut pending, &view, &planned) {
                    Ok(item) => {
                        log::info!(
                            "imported upstream certificate {} ({}) as service {item}",
                            view.id,
                            view.cn
                        );
                        super::books_backfill::record_import(
                            root,
                            config,
                            &mut db,
                            module,
                            item,
                            view.id,
                            Some(planned.upstream_tariff),
                            Some(planned.period),
                            crate::clock::now_unix(),
                        );
                        Action::Linked(item)
                    }
                    Err(e) => {
                        log::error!("import of upstream certificate {}: {e}", view.id);
                        Action::Failed(e.to_string())
                    }
                };
            }
        }
        report.rows.push(out);
    }
    Ok(report)
}

/// The upstream id a service's link params name, if any.
fn linked_id(p: &BTreeMap<String, String>) -> Option<u64> {
    p.get(UPSTREAM_ID_PARAM)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|id| is_possible_id(*id))
}

/// What an earlier import of the same certificate, whose outcome was not
/// known, allows now.
enum Earlier {
    /// Its service never came: import it.
    Open,
    /// Nothing now, and why.
    Wait(String),
    /// It was applied late: service N carries the upstream id.
    Landed(u64),
}

/// An import of `upstream_id` was sent at `sent.at` without a known
/// outcome: inside the settle window nothing is sent again; after it, a
/// local service carrying the id (read now, not at the start of the run)
/// means the call landed late. A service BILLmanager answered without its
/// link is an admin's case.
fn earlier_import(
    db: &mut crate::billing::Db,
    key: &crate::billing::CryptKey,
    module: u64,
    upstream_id: u64,
    sent: &crate::commands::import_pending::Sent,
    settle_secs: i64,
    dry_run: bool,
) -> Result<Earlier> {
    if let Some(service) = sent.service {
        return Ok(Earlier::Wait(format!(
            "its import at {} UTC answered service {service}, which does not carry item param \
             {UPSTREAM_ID_PARAM}; set it to {upstream_id} on service {service} and run the import again \
             (or, if that service is not wanted, delete it and remove the entry \"{upstream_id}\" from \
             var/pmsslreseller/import-pending-{module}.json)",
            sent.at_text
        )));
    }
    let age = crate::clock::now_unix().saturating_sub(sent.at);
    if age < settle_secs {
        return Ok(Earlier::Wait(format!(
            "its import sent at {} UTC got no answer and may still be applied by BILLmanager; it is not \
             sent again before {} UTC ([lifecycle] settle_secs = {settle_secs}): run the import again then",
            sent.at_text,
            crate::commands::lifecycle::intent::unix_text(sent.at.saturating_add(settle_secs))
        )));
    }
    if dry_run {
        return Ok(Earlier::Open);
    }
    let now = db.module_item_params(module, &[UPSTREAM_ID_PARAM], key)?;
    if let Some(why) = now.unreadable.values().next() {
        return Ok(Earlier::Wait(format!(
            "its import sent at {} UTC got no answer, and a local service cannot be read to see \
             whether it landed ({}); fix it, then run the import again",
            sent.at_text, why.message
        )));
    }
    Ok(now
        .by_item
        .iter()
        .find(|(_, p)| linked_id(p) == Some(upstream_id))
        .map_or(Earlier::Open, |(item, _)| Earlier::Landed(*item)))
}

/// What every link of one run shares.
struct Linking<'a> {
    mgrctl: &'a crate::billing::Mgrctl,
    module: u64,
    tariff: &'a str,
    account: Option<u64>,
    today: NaiveDate,
}

/// [`link`], at most once: the mark first (stored and read back), then the
/// call; the mark is cleared once the new service is seen linked in the
/// database. A call without a known outcome leaves the mark for the next
/// run.
fn link_once(
    l: &Linking,
    db: &mut crate::billing::Db,
    pending: &mut Pending,
    view: &CertView,
    planned: &Planned,
) -> Result<u64> {
    pending.mark(view.id, crate::clock::now_unix())?;
    let item = link(
        l.mgrctl, l.module, view, planned, l.tariff, l.account, l.today,
    )
    .map_err(|mut e| {
        e.message.push_str(&format!(
            "; it is not sent again for this certificate within [lifecycle] settle_secs, and after \
             that only if no local service carries upstream id {}: run the import again later",
            view.id
        ));
        e
    })?;
    let stored = db.item_param(item, UPSTREAM_ID_PARAM)?;
    if stored.as_deref().map(str::trim) == Some(view.id.to_string().as_str()) {
        pending.clear(view.id)?;
        return Ok(item);
    }
    pending.answered(view.id, item)?;
    Err(ModuleError::new(
        ErrorKind::Billing,
        format!(
            "{} answered service {item}, but the database shows no item param {UPSTREAM_ID_PARAM} = {} on it; \
             set it on service {item}, then run the import again; until then this certificate is not \
             imported again",
            wire::FUNC,
            view.id
        ),
    )
    .with_object(wire::FUNC))
}

fn ordered_by_us(item: &str) -> String {
    format!(
        "ordered by this module for service {item} (remoteid): not imported; `pmsslreseller reconcile` shows it"
    )
}

/// Create the local service and its link in ONE call, then save the
/// certificate. Returns the new service id.
fn link(
    mgrctl: &crate::billing::Mgrctl,
    module: u64,
    view: &CertView,
    planned: &Planned,
    tariff: &str,
    account: Option<u64>,
    today: NaiveDate,
) -> Result<u64> {
    let module_s = module.to_string();
    let status = planned.item_status.to_db().to_string();
    let service_status = planned.service_status.code().to_string();
    let period = planned.period.to_string();
    let upstream_id = view.id.to_string();
    let expiredate = view.expiredate.map(|d| d.format("%Y-%m-%d").to_string());
    let opendate = view
        .createdate
        .as_deref()
        .and_then(|d| d.trim().get(..10))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| d.format("%Y-%m-%d").to_string());
    let account_s = account.map(|a| a.to_string());
    let altnames = view.altnames.join(" ");
    let imported = today.format("%Y-%m-%d").to_string();
    let mut params: Vec<(&str, &str)> = vec![
        ("sok", "ok"),
        (wire::MODULE, &module_s),
        (wire::ITEMTYPE, ITEMTYPE),
        (wire::PRICELIST, tariff),
        (wire::SERVICE_NAME, &view.cn),
        (wire::STATUS, &status),
        (wire::SERVICE_STATUS, &service_status),
        (wire::PERIOD, &period),
    ];
    if let Some(e) = &expiredate {
        params.push((wire::EXPIREDATE, e));
    }
    if let Some(o) = &opendate {
        params.push((wire::OPENDATE, o));
    }
    if let Some(a) = &account_s {
        params.push((wire::ACCOUNT, a));
    }
    params.push((CN_PARAM, &view.cn));
    if !altnames.is_empty() {
        params.push((ALTNAME_PARAM, &altnames));
    }
    params.push((UPSTREAM_ID_PARAM, &upstream_id));
    params.push((IMPORTED_PARAM, &imported));
    let doc = mgrctl.call(wire::FUNC, &params)?;
    let item = doc
        .child_text(wire::ANSWER_ID)
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|i| is_possible_id(*i))
        .ok_or_else(|| {
            ModuleError::new(
                ErrorKind::Billing,
                format!(
                    "{} answered no {}; the service may exist",
                    wire::FUNC,
                    wire::ANSWER_ID
                ),
            )
        })?;
    if planned.service_status == ServiceStatus::Issued {
        if let Some(crt) = view.crt.as_deref().filter(|c| !c.trim().is_empty()) {
            mgrctl.certificate_save(item, crt, crate::issued::crt_type(crt))?;
        }
    }
    Ok(item)
}

/// An imported, issued service without its certificate (a run killed after
/// creating it): save the certificate now. `true` when something was saved.
fn complete(
    client: &crate::upstream::Client,
    mgrctl: &crate::billing::Mgrctl,
    db: &mut crate::billing::Db,
    item: u64,
    upstream_id: u64,
) -> Result<bool> {
    if db.certificate(item)?.and_then(|c| c.crt).is_some() {
        return Ok(false);
    }
    let view = client.certificate_view(upstream_id)?;
    match view.crt.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(crt) => {
            mgrctl.certificate_save(item, crt, crate::issued::crt_type(crt))?;
            log::info!("import: saved the certificate of service {item} (upstream {upstream_id})");
            Ok(true)
        }
        None => Ok(false),
    }
}

/// `--command import --module N [--itemtype certificate] [--searchstring S]`
/// from BILLmanager: link everything it can; one line per certificate in the
/// log; an error only when the run as a whole failed.
pub fn run_command(
    ctx: &super::Ctx,
    module: u64,
    itemtype: Option<&str>,
    search: Option<&str>,
) -> Result<Option<String>> {
    if let Some(t) = itemtype.filter(|t| *t != ITEMTYPE) {
        log::info!("import: product type '{t}' is not ours ({ITEMTYPE}); nothing to import");
        return Ok(Some(crate::protocol::xml::empty_doc()));
    }
    let opts = ImportOptions {
        search: search.map(str::to_string),
        ..ImportOptions::default()
    };
    let report = import(&ctx.root, &ctx.config, module, &opts)?;
    for r in &report.rows {
        if let Action::Failed(why) = &r.action {
            log::warn!("import: upstream certificate {}: {why}", r.upstream_id);
        }
    }
    log::info!("{}", report.summary());
    Ok(Some(crate::protocol::xml::empty_doc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(status: u8, service_status: Option<u8>, crt: bool, expiry: &str) -> CertView {
        CertView {
            id: 7,
            cn: "a.example".into(),
            altnames: vec![],
            pricelist: "3033".into(),
            period: Some(12),
            createdate: Some("2026-01-02".into()),
            expiredate: NaiveDate::parse_from_str(expiry, "%Y-%m-%d").ok(),
            item_status: Some(status.to_string()),
            status: Some(ItemStatus::from_db(status.into())),
            service_status,
            status_msg: None,
            approver_method: None,
            approver_emails: vec![],
            csr: None,
            crt: crt.then(|| "-----BEGIN CERTIFICATE-----".into()),
            remoteid: None,
            validation: Default::default(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
    }

    #[test]
    fn issued_active_certificate_is_planned_active() {
        let p = plan(&view(2, Some(5), true, "2027-06-01"), today()).unwrap();
        assert_eq!(p.upstream_tariff, 3033);
        assert_eq!(p.item_status, ItemStatus::Active);
        assert_eq!(p.service_status, ServiceStatus::Issued);
    }

    #[test]
    fn expired_or_suspended_is_planned_suspended() {
        let p = plan(&view(2, Some(5), true, "2026-01-01"), today()).unwrap();
        assert_eq!(p.item_status, ItemStatus::Suspended);
        let p = plan(&view(3, Some(5), true, "2027-06-01"), today()).unwrap();
        assert_eq!(p.item_status, ItemStatus::Suspended);
    }

    #[test]
    fn pending_keeps_its_sub_status() {
        let p = plan(&view(5, Some(4), false, ""), today()).unwrap();
        assert_eq!(p.service_status, ServiceStatus::Enrolled);
        assert_eq!(p.item_status, ItemStatus::Active);
    }

    #[test]
    fn deleted_unpaid_failed_and_unnamed_tariffs_are_skipped() {
        assert!(plan(&view(4, Some(5), true, "2027-01-01"), today()).is_err());
        assert!(plan(&view(1, Some(0), false, ""), today())
            .unwrap_err()
            .contains("not paid"));
        assert!(plan(&view(2, Some(6), false, ""), today())
            .unwrap_err()
            .contains("failed"));
        let mut v = view(2, Some(5), true, "2027-01-01");
        v.pricelist = "Comodo Positive SSL".into();
        assert!(plan(&v, today()).unwrap_err().contains("not an id"));
    }

    #[test]
    fn only_whole_months_are_imported() {
        let mut v = view(2, Some(5), true, "2027-06-01");
        v.period = Some(24);
        assert_eq!(plan(&v, today()).unwrap().period, 24);
        v.period = None;
        assert_eq!(plan(&v, today()).unwrap().period, 12);
        for (p, named) in [(-100, "trial"), (0, "lifetime"), (-50, "daily"), (-7, "-7")] {
            v.period = Some(p);
            let why = plan(&v, today()).unwrap_err();
            assert!(why.contains(named), "{why}");
        }
    }
}
