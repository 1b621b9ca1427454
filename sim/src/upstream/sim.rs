//! The running simulator: world state plus catalogue, fault script, journal and issuing CA, behind one
//! lock. Also the issuance progression (SIM-22): `service_status` 3 → 4 → 5 (or 6), driven by
//! `/_sim/tick`, `/_sim/issue`, `/_sim/fail` or the `issue_mode` knob.

use super::catalog::Catalog;
use super::certs::IssuingCa;
use super::faults::FaultScript;
use super::journal::Journal;
use super::state::{PendingKind, Store, World};
use super::validity::{cert_until, TermModel};

pub struct Sim {
    pub world: World,
    pub catalog: Catalog,
    pub faults: FaultScript,
    pub journal: Journal,
    pub ca: IssuingCa,
    pub store: Store,
}

pub const MSG_REQUESTED: &str = "The request has been sent to the certificate authority";
pub const MSG_ENROLLED: &str = "Waiting for the certificate authority to issue the certificate";
pub const MSG_FAILED: &str = "The certificate authority refused to issue the certificate";

impl Sim {
    /// Writes the state file if anything changed; a failure is reported, the simulator goes on.
    pub fn persist(&mut self) {
        if let Err(e) = self.store.save(&self.world) {
            eprintln!("billmgr-sim upstream: cannot save state: {e}");
        }
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
        // Issue 12: never longer than the CA/B Forum cap of the issue date (validity.rs).
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
            .filter(|i| i.pending.is_some() && !i.deleted)
            .map(|i| i.id)
            .collect()
    }

    /// `issue_mode=auto`: one step per `issue_step_secs` of simulator clock since the last step.
    pub fn advance_auto(&mut self) {
        if self.world.knobs.on("upstream_autoprolong") {
            super::handlers::auto_renew(self);
        }
        if self.world.knobs.get("issue_mode") != "auto" {
            return;
        }
        let step = self.world.knobs.issue_step_secs();
        let now = self.world.now_secs();
        for id in self.pending_ids() {
            while let Some((_, since)) = self.world.items.get(&id).and_then(|i| i.pending) {
                if now - since < step {
                    break;
                }
                self.step(id);
                // Steps are counted from the previous step's due time, not from "now".
                if let Some(item) = self.world.items.get_mut(&id) {
                    if let Some((k, _)) = item.pending {
                        item.pending = Some((k, since + step));
                    }
                }
            }
        }
    }
}
