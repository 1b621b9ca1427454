//! The running simulator: world state plus catalogue, fault script, journal and issuing CA, behind one
//! lock. Also the issuance progression (SIM-22): `service_status` 3 → 4 → 5 (or 6), driven by
//! `/_sim/tick`, `/_sim/issue`, `/_sim/fail` or the `issue_mode` knob, and the upstream's own
//! renewals, both checked before every request (`advance_auto`).

use super::catalog::Catalog;
use super::certs::IssuingCa;
use super::faults::FaultScript;
use super::journal::Journal;
use super::state::{Item, PendingKind, World};
use super::validity::{cert_until, TermModel};
use chrono::NaiveDate;

pub struct Sim {
    pub world: World,
    pub catalog: Catalog,
    pub faults: FaultScript,
    pub journal: Journal,
    pub ca: IssuingCa,
    /// The world changed since the state file was last written (persist.rs).
    pub dirty: bool,
    /// Requests that may have changed the world, counted; `advance_auto` rescans only after one.
    pub changes: u64,
    /// What the last full `advance_auto` scan found, while it still holds.
    auto_seen: Option<AutoSeen>,
    /// `http(s)://HOST:PORT` the simulator listens on (knob `cart_answer=ok_url` names its cart).
    pub base_url: String,
}

/// The last `advance_auto` scan that changed nothing: until another change, a new day (renewals
/// are due by date) or the earliest next issuance step (`issue_mode=auto`), no scan can find more.
#[derive(Debug, Clone, Copy)]
struct AutoSeen {
    changes: u64,
    today: NaiveDate,
    next_step_at: i64,
}

pub const MSG_REQUESTED: &str = "The request has been sent to the certificate authority";
pub const MSG_ENROLLED: &str = "Waiting for the certificate authority to issue the certificate";
pub const MSG_FAILED: &str = "The certificate authority refused to issue the certificate";

impl Sim {
    pub fn new(world: World, catalog: Catalog, faults: FaultScript, ca: IssuingCa) -> Sim {
        Sim {
            world,
            catalog,
            faults,
            journal: Journal::default(),
            ca,
            // Written once at start, as before: the file exists as soon as the simulator listens.
            dirty: true,
            changes: 0,
            auto_seen: None,
            base_url: String::new(),
        }
    }

    /// Marks the world as (possibly) changed: the state file is due, and `advance_auto` looks again.
    pub fn touch(&mut self) {
        self.dirty = true;
        self.changes += 1;
    }

    /// Whether `id` is being processed (3 → 4 → 5) and not deleted.
    pub fn is_pending(&self, id: u64) -> bool {
        self.world.items.get(&id).is_some_and(Item::in_processing)
    }

    /// Puts an item into processing: `service_status` 3, item status 5 (SIM-22, SIM-25, SIM-27).
    pub fn start_processing(&mut self, id: u64, kind: PendingKind) {
        let now = self.world.now_secs();
        if let Some(item) = self.world.items.get_mut(&id) {
            item.service_status = 3;
            item.status = 5;
            item.status_msg = MSG_REQUESTED.to_string();
            item.pending = Some((kind, now));
        }
        let today = self.world.today();
        if let Some(item) = self.world.items.get_mut(&id) {
            item.dcv_sent = Some(today);
        }
        if self.world.knobs.get("issue_mode") == "instant" {
            self.complete(id);
        }
    }

    /// One step forward for a pending item: 3 → 4, 4 → 5 (or 6 for a `fail_cn` name).
    pub fn step(&mut self, id: u64) {
        let now = self.world.now_secs();
        let Some(item) = self.world.items.get_mut(&id) else {
            return;
        };
        let Some((kind, _)) = item.pending else {
            return;
        };
        if item.service_status == 3 {
            item.service_status = 4;
            item.status_msg = MSG_ENROLLED.to_string();
            item.pending = Some((kind, now));
        } else {
            self.complete(id);
        }
    }

    /// Issues a pending item now: real PEM chain, expiry, item active.
    pub fn complete(&mut self, id: u64) {
        let today = self.world.today();
        let now = self.world.now_secs();
        let fails = match self.world.items.get(&id) {
            Some(item) if item.pending.is_some() => self.world.knobs.fails_cn(&item.cn),
            _ => return,
        };
        if fails {
            self.fail(id, MSG_FAILED);
            return;
        }
        let Some(item) = self.world.items.get_mut(&id) else {
            return;
        };
        let Some((kind, _)) = item.pending else {
            return;
        };
        // The service's paid-until date: an order buys it now (by the term model); a reissue or a
        // renewal keeps the one already paid for (the renewal moved it when it was paid).
        let paid_until = match (kind, item.expiredate) {
            (PendingKind::Reissue | PendingKind::Prolong, Some(exp)) => exp,
            _ => TermModel::from_knob(self.world.knobs.get("term_model")).paid_until(
                today,
                today,
                item.period,
            ),
        };
        // Never longer than the CA/B Forum cap of the issue date (validity.rs).
        let until = cert_until(today, paid_until);
        match self.ca.issue(&item.cn, &item.altnames, today, until) {
            Ok(chain) => {
                item.crt = Some(chain);
                item.expiredate = Some(paid_until);
                item.cert_not_before = Some(today);
                item.cert_not_after = Some(until);
                item.certs_issued += 1;
                item.service_status = 5;
                if item.status != 3 {
                    item.status = 2;
                }
                item.status_msg = String::new();
                item.issued_at = Some(now);
                item.pending = None;
            }
            Err(e) => {
                item.service_status = 6;
                item.status_msg = format!("simulator could not build the certificate: {e}");
                item.pending = None;
            }
        }
    }

    /// Failed issuance (`/_sim/fail`, `fail_cn`): `service_status` 6 with a message.
    pub fn fail(&mut self, id: u64, msg: &str) {
        if let Some(item) = self.world.items.get_mut(&id) {
            item.service_status = 6;
            item.status_msg = msg.to_string();
            item.pending = None;
        }
    }

    /// Ids of items currently being processed.
    pub fn pending_ids(&self) -> Vec<u64> {
        self.world
            .items
            .values()
            .filter(|i| i.in_processing())
            .map(|i| i.id)
            .collect()
    }

    /// Before every request: the upstream's own renewals (knob `upstream_autoprolong`) and, with
    /// `issue_mode=auto`, one step per `issue_step_secs` of simulator clock since the last step.
    /// Skipped when nothing can have become due since the last scan (`AutoSeen`): walking every
    /// item on every request made reads O(certificates).
    pub fn advance_auto(&mut self) {
        let now = self.world.now_secs();
        let today = self.world.today();
        if let Some(seen) = self.auto_seen {
            if seen.changes == self.changes && seen.today == today && now < seen.next_step_at {
                return;
            }
        }
        let mut changed = false;
        if self.world.knobs.on("upstream_autoprolong") {
            changed |= super::handlers::auto_renew(self);
        }
        let mut next_step_at = i64::MAX;
        if self.world.knobs.get("issue_mode") == "auto" {
            let step = self.world.knobs.issue_step_secs();
            for id in self.pending_ids() {
                while let Some((_, since)) = self.world.items.get(&id).and_then(|i| i.pending) {
                    if now - since < step {
                        next_step_at = next_step_at.min(since + step);
                        break;
                    }
                    self.step(id);
                    changed = true;
                    // Steps are counted from the previous step's due time, not from "now".
                    if let Some(item) = self.world.items.get_mut(&id) {
                        if let Some((k, _)) = item.pending {
                            item.pending = Some((k, since + step));
                        }
                    }
                }
            }
        }
        if changed {
            // Look again next time: a big clock jump may leave renewals due (ten per scan).
            self.touch();
            self.auto_seen = None;
        } else {
            self.auto_seen = Some(AutoSeen {
                changes: self.changes,
                today,
                next_step_at,
            });
        }
    }
}
