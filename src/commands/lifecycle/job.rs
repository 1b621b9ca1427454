//! One run of a lifecycle command on one item: the local BILLmanager
//! (mgrctl + database), the item and its module, the upstream connection,
//! the per-item lock, and the helpers every command shares (upstream id,
//! intent record, "is the running operation still there", recording a failed
//! send, the sub-status).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::billing::{CryptKey, Db, ItemRow, Mgrctl, ModuleSettings};
use crate::commands::module::{connect, our_module_settings};
use crate::commands::Ctx;
use crate::protocol::args::ServiceOp;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::quote::quote;
use crate::upstream::{is_possible_id, Client, UpstreamError};
use crate::vocab::period::MAX_MONTHS;
use crate::vocab::Period;

use super::intent::{decide, effective, now_unix, Decision, Intent, IntentOp, Phase, Run};

use super::status_map::ServiceStatus;
use crate::lock::ItemLock;
use crate::vocab::item_params::{INTENT_PARAM, SERVICE_STATUS_PARAM, UPSTREAM_ID_PARAM};

/// Product type we serve.
pub const ITEMTYPE: &str = "certificate";

pub struct Job<'a> {
    pub ctx: &'a Ctx,
    pub op: ServiceOp,
    pub item_id: u64,
    pub ro: Option<u64>,
    pub mgrctl: &'a Mgrctl,
    pub db: &'a mut Db,
    pub key: CryptKey,
    pub item: ItemRow,
    pub settings: ModuleSettings,
    pub params: BTreeMap<String, String>,
    client: ClientSlot<'a>,
    _lock: ItemLock,
}

/// The upstream client: built on first use for one command, or shared by
/// the bulk sync across all items of a module.
enum ClientSlot<'a> {
    Lazy(Option<Box<Client>>),
    Shared(&'a Client),
}

/// Where a job comes from.
pub struct JobSpec<'a> {
    pub op: ServiceOp,
    pub item_id: u64,
    pub ro: Option<u64>,
    pub lock_wait: Duration,
    /// The bulk sync's module, opened once for all its items.
    pub shared: Option<SharedModule<'a>>,
}

/// One processing module opened once by the bulk sync and lent to each of
/// its items' jobs: the upstream client, the crypt key and the module's
/// settings. Reading the key and decrypting the module password are the
/// dearest steps of a job's start (RSA); per item they would cost more than
/// the item's own sync.
#[derive(Clone, Copy)]
pub struct SharedModule<'a> {
    pub client: &'a Client,
    pub key: &'a CryptKey,
    pub settings: &'a ModuleSettings,
}

impl<'a> Job<'a> {
    /// Lock the item, then read it (after the lock, so a run that waited sees
    /// what the previous holder wrote) and check that it is ours.
    pub fn start(
        ctx: &'a Ctx,
        spec: JobSpec<'a>,
        mgrctl: &'a Mgrctl,
        db: &'a mut Db,
    ) -> Result<Job<'a>> {
        let JobSpec {
            op,
            item_id,
            ro,
            lock_wait,
            shared,
        } = spec;
        let lock = ItemLock::acquire(&ctx.root.lock_dir(), item_id, lock_wait)?;
        let item = db.item(item_id)?;
        let (key, settings) = match shared {
            Some(m) => {
                check_in_module(&item, m.settings.id)?;
                (m.key.clone(), m.settings.clone())
            }
            None => {
                let key = CryptKey::load(&ctx.root)?;
                let settings = check_ours(db, &key, &item)?;
                (key, settings)
            }
        };
        let params = db.item_params(item_id, &key)?;
        // Debug builds only: the panic net's test, once the password is
        // known to the redaction (the test puts it into the message).
        crate::panic_net::test_point(op.name());
        Ok(Job {
            ctx,
            op,
            item_id,
            ro,
            mgrctl,
            db,
            key,
            item,
            settings,
            params,
            client: match shared {
                Some(m) => ClientSlot::Shared(m.client),
                None => ClientSlot::Lazy(None),
            },
            _lock: lock,
        })
    }

    /// The upstream client, built on first use.
    pub fn client(&mut self) -> Result<&Client> {
        if let ClientSlot::Lazy(None) = self.client {
            let built = connect(&self.settings, &self.ctx.config)?;
            self.client = ClientSlot::Lazy(Some(Box::new(built)));
        }
        match &self.client {
            ClientSlot::Shared(c) => Ok(c),
            ClientSlot::Lazy(Some(c)) => Ok(c),
            ClientSlot::Lazy(None) => Err(ModuleError::internal("upstream client missing")),
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// Write an item param and keep our copy in step.
    pub fn save_param(&mut self, name: &str, value: &str) -> Result<()> {
        self.mgrctl.saveparam(self.item_id, name, value)?;
        self.params.insert(name.to_string(), value.to_string());
        Ok(())
    }

    /// The upstream certificate id, once ordered.
    pub fn upstream_id(&self) -> Result<Option<u64>> {
        match self.param(UPSTREAM_ID_PARAM) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|id| is_possible_id(*id))
                .map(Some)
                .ok_or_else(|| {
                    ModuleError::new(
                        ErrorKind::ManualRequired,
                        format!(
                        "item {} has an unreadable upstream id '{v}' in param {UPSTREAM_ID_PARAM}; \
                         set it to the upstream certificate id",
                        self.item_id
                    ),
                    )
                    .with_object(UPSTREAM_ID_PARAM)
                }),
        }
    }

    /// The upstream id, required by every command after `open`.
    pub fn require_upstream_id(&self) -> Result<u64> {
        self.upstream_id()?.ok_or_else(|| {
            ModuleError::missed(
                UPSTREAM_ID_PARAM,
                format!(
                    "item {} has no upstream certificate yet (it was never ordered upstream, \
                     or its open operation has not finished); finish the open operation first",
                    self.item_id
                ),
            )
        })
    }

    /// Write a param that money depends on and read it back from the
    /// database over our own connection: a `service.saveparam` that answers
    /// `<ok/>` but stores nothing (its form differs between BILLmanager's C++
    /// and Python modules, module-protocol.md §10.3) must stop the run before
    /// anything is sent or reported.
    pub fn save_param_confirmed(&mut self, name: &str, value: &str) -> Result<()> {
        self.save_param(name, value)?;
        self.confirm_stored(name, value)
    }

    /// The database holds `value` in item param `name`, else a `billing`
    /// error naming the mgrctl call that should have stored it.
    pub fn confirm_stored(&mut self, name: &str, value: &str) -> Result<()> {
        let stored = self.db.item_param(self.item_id, name)?;
        if stored.as_deref().map(str::trim) == Some(value.trim()) {
            return Ok(());
        }
        let found = match &stored {
            None => "nothing".to_string(),
            Some(v) => format!("'{}'", quote(v)),
        };
        Err(ModuleError::new(
            ErrorKind::Billing,
            format!(
                "mgrctl service.saveparam elid={} name={name} answered ok, but the database holds {found} \
                 instead of '{}'; nothing was sent upstream. Check that `mgrctl -m billmgr service.saveparam` \
                 stores item params on this BILLmanager, then rerun the operation",
                self.item_id,
                quote(value)
            ),
        )
        .with_object(format!("service.saveparam {name}")))
    }

    /// Set the item's expiry and read it back: a renewal is never reported
    /// while the local paid term has not moved with the upstream one.
    pub fn set_expiry_confirmed(&mut self, date: chrono::NaiveDate) -> Result<()> {
        self.mgrctl.setexpiredate(self.item_id, date)?;
        let stored = self.db.item(self.item_id)?.expiredate;
        if stored != Some(date) {
            return Err(ModuleError::new(
                ErrorKind::Billing,
                format!(
                    "mgrctl service.setexpiredate elid={} expiredate={date} answered ok, but the database \
                     holds {}; the renewal is not reported. Check `mgrctl -m billmgr service.setexpiredate` \
                     on this BILLmanager, then rerun the operation (nothing is paid again)",
                    self.item_id,
                    stored.map(|d| d.to_string()).unwrap_or_else(|| "no expiry".into())
                ),
            )
            .with_object("service.setexpiredate"));
        }
        self.item.expiredate = Some(date);
        Ok(())
    }

    /// Save the upstream id and read it back.
    pub fn save_upstream_id(&mut self, id: u64) -> Result<()> {
        self.save_param_confirmed(UPSTREAM_ID_PARAM, &id.to_string())
    }

    /// Before a `post*` report: the upstream id is stored in the database,
    /// so a later `close` finds the certificate to delete.
    pub fn confirm_upstream_id(&mut self, id: u64) -> Result<()> {
        self.confirm_stored(UPSTREAM_ID_PARAM, &id.to_string())
    }

    /// The stored intent as the rule reads it: an order intent beside a
    /// stored upstream id is over (intent.rs [`effective`]; `open` leaves
    /// it `Sent` and lets the id prove the order).
    pub fn intent(&self) -> Result<Option<Intent>> {
        let stored = self.stored_intent()?;
        let ordered = self.upstream_id()?.is_some();
        Ok(effective(stored, ordered))
    }

    /// The intent exactly as stored.
    pub fn stored_intent(&self) -> Result<Option<Intent>> {
        Intent::from_param(self.param(INTENT_PARAM)).map_err(|m| {
            ModuleError::new(
                ErrorKind::ManualRequired,
                format!(
                    "{m}. Check upstream whether an operation of this item was paid, then delete the param"
                ),
            )
            .with_object(INTENT_PARAM)
        })
    }

    /// Save the intent and read it back: no money moves on an intent the
    /// database does not hold.
    pub fn save_intent(&mut self, intent: &Intent) -> Result<()> {
        self.save_param_confirmed(INTENT_PARAM, &intent.to_json())?;
        // Its ledger row (books.rs): never fails the run.
        super::books::record(self, intent);
        Ok(())
    }

    /// The decision of the one rule (intent.rs [`decide`]) for `op`: the
    /// stored intent and whether our running operation still exists, both
    /// read under the item lock.
    pub fn decide(&mut self, op: IntentOp) -> Result<Decision> {
        let stored = self.intent()?;
        // A ledger row the books missed is written before anything moves.
        super::books::record_current(self);
        let ro_open = self.operation_still_open()?;
        let mut decision = decide(
            stored.as_ref(),
            Run {
                op,
                ro: self.ro,
                ro_open,
            },
        );
        // No intent on the item (a new item, or one an admin deleted as the
        // module's messages say to): the generation would start again at 1,
        // and the ledger row of this movement would be taken for one already
        // in the books. Past the item's highest generation in the books.
        if let (None, Decision::Fresh { generation }) = (&stored, &mut decision) {
            if let Some(free) = super::books::first_free_generation(self) {
                *generation = (*generation).max(free);
            }
        }
        match &decision {
            Decision::OperationGone => log::info!(
                "item {}: running operation {} no longer exists (finished by another run, or deleted); \
                 {} does nothing",
                self.item_id,
                self.ro.map(|r| r.to_string()).unwrap_or_default(),
                op.name()
            ),
            Decision::FinishLocal(i) => log::info!(
                "item {}: the upstream {} of generation {} (running operation {}) is already applied; \
                 finishing locally without sending anything",
                self.item_id,
                i.op.name(),
                i.generation,
                i.ro.map(|r| r.to_string()).unwrap_or_else(|| "none".into())
            ),
            _ => {}
        }
        Ok(decision)
    }

    /// Another operation's movement applied upstream whose local steps its
    /// BILLmanager running operation (still there) has yet to finish: the
    /// intent is what lets that rerun finish without paying or booking the
    /// movement again, so a movement of `op` must wait rather than replace
    /// it (the rule alone would start a new generation over it).
    pub fn finishing_other(&mut self, op: IntentOp) -> Result<Option<Intent>> {
        let Some(i) = self
            .intent()?
            .filter(|i| i.phase == Phase::Applied && i.op != op)
        else {
            return Ok(None);
        };
        match i.ro {
            Some(ro) if self.db.running_operation(ro)?.is_some() => Ok(Some(i)),
            _ => Ok(None),
        }
    }

    /// False when another run already finished this running operation
    /// (the `post*` call deletes it): then we must not finish it twice.
    pub fn operation_still_open(&mut self) -> Result<bool> {
        match self.ro {
            None => Ok(true),
            Some(ro) => Ok(self.db.running_operation(ro)?.is_some()),
        }
    }

    /// Seconds since `intent` was sent, against the settle window.
    pub fn still_settling(&self, intent: &Intent) -> bool {
        intent.age(now_unix()) < self.ctx.config.lifecycle.settle_secs as i64
    }

    /// Another operation's money movement has an unknown outcome: it must be
    /// settled first.
    pub fn unfinished_other(&self, intent: &Intent) -> ModuleError {
        ModuleError::new(
            ErrorKind::ManualRequired,
            format!(
                "item {}: an upstream {} sent at {} UTC has an unknown outcome; finish that operation first \
                 (rerun it, or check upstream and delete item param {INTENT_PARAM})",
                self.item_id,
                intent.op.name(),
                intent.sent_at_text
            ),
        )
        .with_object(format!("item {}", self.item_id))
    }

    /// The service's period in whole months, for what is bought or dated by
    /// the month (a renewal, the paid term). Any other period
    /// (`vocab::period`: trial, lifetime, daily, unknown) is a `value` error
    /// naming it, raised before anything is sent.
    pub fn period_months(&self) -> Result<u32> {
        self.item
            .period
            .months()
            .ok_or_else(|| not_months(self.item_id, self.item.period))
    }
}

/// The `value` error for a period that is not whole months, saying what it
/// is and what to do. Nothing is sent upstream for such a period.
pub fn not_months(item: u64, period: Period) -> ModuleError {
    let why = match period {
        Period::Trial => {
            "pmsslreseller neither renews a trial nor computes a paid term from it".to_string()
        }
        Period::Lifetime => {
            "certificates are sold for whole months (12, 24, …), never for life".into()
        }
        Period::Daily => "certificates are not billed by the day".into(),
        Period::Unknown(_) => format!(
            "it is no number of months (1–{MAX_MONTHS}) and no special period pmsslreseller knows"
        ),
        Period::Missing => "BILLmanager's database holds no period for it".into(),
        Period::Months(_) => "it is not what this step needs".into(),
    };
    ModuleError::value(
        "period",
        format!(
            "item {item}'s period is {period}: {why}. Set the service's period to the months the \
             customer pays for, then rerun; nothing was sent upstream"
        ),
    )
    .with_param(
        "value",
        period.code().map(|c| c.to_string()).unwrap_or_default(),
    )
}

/// For the bulk sync: the item (read under its lock) is still a certificate
/// of the module the sync opened; an item moved to another module since the
/// list was read is left to that module.
fn check_in_module(item: &ItemRow, module: u64) -> Result<()> {
    if item.itemtype_intname == ITEMTYPE && item.processingmodule == Some(module) {
        return Ok(());
    }
    Err(ModuleError::new(
        ErrorKind::WrongModule,
        format!(
            "item {} is no longer a certificate of processing module {module} (now: '{}' service, module {}); \
             skipped",
            item.id,
            item.itemtype_intname,
            item.processingmodule
                .map(|m| m.to_string())
                .unwrap_or_else(|| "none".into())
        ),
    )
    .with_object(item.id.to_string()))
}

/// The item must be a certificate handled by a pmsslreseller module.
fn check_ours(db: &mut Db, key: &CryptKey, item: &ItemRow) -> Result<ModuleSettings> {
    if item.itemtype_intname != ITEMTYPE {
        return Err(ModuleError::new(
            ErrorKind::WrongModule,
            format!(
                "item {} is a '{}' service, not an SSL certificate; pmsslreseller handles certificates only",
                item.id, item.itemtype_intname
            ),
        )
        .with_object(item.id.to_string()));
    }
    let module = item.processingmodule.ok_or_else(|| {
        ModuleError::new(
            ErrorKind::WrongModule,
            format!(
                "item {} has no processing module; assign the pmsslreseller module to its tariff",
                item.id
            ),
        )
        .with_object(item.id.to_string())
    })?;
    our_module_settings(db, key, module).map_err(|mut e| {
        if e.kind == ErrorKind::WrongModule {
            e.message = format!("item {}: {}", item.id, e.message);
            e.object = Some(item.id.to_string());
        } else if e.object.as_deref() == Some("processingmodule") {
            // The module the item names does not exist.
            e.message = format!("item {}: {} (item.processingmodule)", item.id, e.message);
            e.object = Some("item.processingmodule".into());
        }
        e
    })
}

/// After a failed send: a definite "no" marks the intent refused (a rerun
/// may send again); anything that may have been applied leaves it `Sent`, so
/// the rerun reconciles first.
pub fn record_send_failure(job: &mut Job, intent: Intent, e: UpstreamError) -> ModuleError {
    if e.maybe_applied() {
        log::warn!(
            "item {}: {} {} sent, outcome unknown ({e:?}); the next run checks upstream before sending again",
            job.item_id,
            intent.op.name(),
            intent.generation
        );
        let mut err = ModuleError::from(e);
        if err.kind != ErrorKind::UpstreamTimeout {
            err.kind = ErrorKind::UpstreamOutcomeUnknown;
        }
        return err;
    }
    let not_before = e
        .api()
        .filter(|_| intent.op == IntentOp::Prolong)
        .and_then(crate::upstream::wire::renewal_not_before);
    let mut refused = intent.with_phase(Phase::Refused);
    refused.not_before = not_before.map(|d| d.to_string());
    if let Err(save) = job.save_intent(&refused) {
        log::error!(
            "item {}: could not record the refused send: {save}",
            job.item_id
        );
    }
    match not_before {
        Some(day) => renewal_refused_until(job.item_id, &refused, day),
        None => ModuleError::from(e),
    }
}

/// The day before which a refused renewal is not sent again: the upstream
/// said "can be renewed only after DAY" (field-2026-12 §5) and DAY has not
/// come. `None`: nothing holds it.
pub fn renewal_held(intent: &Intent) -> Option<chrono::NaiveDate> {
    if intent.op != IntentOp::Prolong || intent.phase != Phase::Refused {
        return None;
    }
    let day = intent
        .not_before
        .as_deref()
        .and_then(crate::upstream::wire::parse_date)?;
    (crate::clock::today() < day).then_some(day)
}

/// A renewal the upstream takes only from `day` on: not transient, so not
/// retried before then (a definite refusal: `prolong`'s retry cap asks an
/// admin at once).
pub fn renewal_refused_until(item: u64, intent: &Intent, day: chrono::NaiveDate) -> ModuleError {
    let certificate = intent
        .upstream_id
        .map(|id| format!("certificate {id}"))
        .unwrap_or_else(|| "the certificate".into());
    ModuleError::new(
        ErrorKind::UpstreamError,
        format!(
            "item {item}: the upstream renews {certificate} only after {day} (\"can be renewed only after\"); \
             nothing was paid upstream. Restart this operation on or after {day}: before that day the module \
             does not ask the upstream again"
        ),
    )
    .with_object(crate::upstream::wire::FUNC_SERVICE_PROLONG)
    .with_param("not_before", day.to_string())
}

/// `service.setstatus` and our copy of the param.
pub fn set_status(job: &mut Job, status: ServiceStatus) -> Result<()> {
    job.mgrctl.setstatus(job.item_id, status.code())?;
    job.params
        .insert(SERVICE_STATUS_PARAM.to_string(), status.code().to_string());
    Ok(())
}
