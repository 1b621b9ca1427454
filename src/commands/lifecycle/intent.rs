//! The intent record: what a money-moving upstream call is about to do, saved
//! on the item (item param `pmss_intent`, JSON) BEFORE the call is sent.
//!
//! It makes a lost answer or a crash recoverable: a rerun that finds an intent
//! in phase `Sent` knows that an order/renewal/reissue may exist upstream and
//! looks it up (reconcile/lost_order.rs) instead of paying again. The key of one money
//! movement is (item, op, generation); `generation` grows by one each time a
//! new movement starts after the previous one finished.
//!
//! State machine of one generation:
//! ```text
//!   (none|Done) --begin--> Sent --definite upstream "no"--> Refused --rerun--> Sent (attempt+1)
//!                           |  \--answer lost / crash------> Sent (stays; rerun reconciles)
//!                           \--upstream confirmed---------> Applied --local steps done--> Done
//! ```
//!
//! Which transition a run takes is decided in ONE place, [`decide`]; every
//! write of the record is read back from the database before money moves
//! (job.rs).

use serde::{Deserialize, Serialize};

use crate::vocab::item_params::INTENT_PARAM;

/// The money-moving (or certificate-changing) upstream operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentOp {
    Open,
    Prolong,
    Reopen,
    Close,
}

impl IntentOp {
    pub fn name(self) -> &'static str {
        match self {
            IntentOp::Open => "open",
            IntentOp::Prolong => "prolong",
            IntentOp::Reopen => "reopen",
            IntentOp::Close => "close",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Written before sending; the outcome is unknown until proven.
    Sent,
    /// The upstream answered with a definite error: nothing was applied.
    Refused,
    /// The upstream applied it (answer read or found by reconciliation);
    /// local steps may still be missing.
    Applied,
    /// Upstream and local state agree; the movement is over.
    Done,
}

/// What was true upstream before sending, to recognise the effect later.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Before {
    /// Upstream expiry before a renewal (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// Digest of the upstream certificate before a reissue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crt_digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub op: IntentOp,
    pub generation: u32,
    /// Sends of this generation so far (1 = first try).
    pub attempt: u32,
    pub phase: Phase,
    /// Running operation that started it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ro: Option<u64>,
    /// Unix seconds of the latest send.
    pub sent_at: i64,
    /// The same in UTC text, for an admin reading the param.
    pub sent_at_text: String,
    /// Upstream certificate concerned (known for everything but an order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_id: Option<u64>,
    /// Order identity for reconciliation: the remoteid we sent, CN, tariff id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remoteid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricelist: Option<u64>,
    /// The period sent: months, or the trial's code (`vocab::period`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    /// Reissue kind sent (`crt_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crt_type: Option<String>,
    #[serde(default)]
    pub before: Before,
    /// The local paid term's end a renewal sets (YYYY-MM-DD): the old end +
    /// the period, fixed before sending so a rerun never adds it twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_expiry: Option<String>,
    /// The upstream answered `ok` but showed no effect (a renewal whose paid
    /// term did not move): the outcome is unknown, and it is never sent
    /// again blindly.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub answered_ok: bool,
    /// The order landed in the upstream cart, not paid (field-2026-12 §5):
    /// what named the cart (`billorder.id 90001`, `cart link …`, or that the
    /// lookup found it unpaid). It exists upstream, so it is never ordered
    /// again; it is adopted once the upstream shows it paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart: Option<String>,
    /// A renewal the upstream refuses until this day (`YYYY-MM-DD`, "can be
    /// renewed only after", field-2026-12 §5): not sent again before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// The module's own automatic reissue or renewal (auto.rs), not a
    /// movement BILLmanager asked for. With [`Intent::ro`] it names the
    /// owner ([`Intent::module_owned`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto: bool,
    /// The customer's `send_dv_email`: the reissue that makes this address
    /// the approver (send_dv.rs). One request per address and certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// A BILLmanager renewal that paid nothing upstream: the module's
    /// automatic renewal of this generation had already bought the term
    /// (prolong.rs `adopt_automatic`). The books show it at cost 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_by_auto: Option<u32>,
}

/// What a run must do, given the intent it found. Every variant that needs
/// the stored intent carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing pending: start a new generation and send.
    Fresh { generation: u32 },
    /// The previous send was refused (nothing moved): send again, same
    /// generation, next attempt.
    Resend(Intent),
    /// The previous send may have been applied: look it up first.
    Reconcile(Intent),
    /// The upstream already applied it for this operation: only the local
    /// steps remain; nothing is sent.
    FinishLocal(Intent),
    /// The running operation of this run no longer exists (another run
    /// finished it, or it was deleted): nothing is sent, nothing reported.
    OperationGone,
}

/// The run asking: which op, for which running operation, and whether that
/// running operation still exists (read under the item lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub op: IntentOp,
    pub ro: Option<u64>,
    pub ro_open: bool,
}

/// THE rule for every call that moves money or changes a certificate (open,
/// prolong, reopen, close): a running operation pays at most once.
///
/// - the running operation is gone → move nothing (a duplicate or a rerun
///   of a finished operation);
/// - an intent `Done` or `Applied` by THIS running operation → finish
///   locally, send nothing;
/// - `Sent` (of any op) → its money may have moved: reconcile first;
/// - `Refused` of the same op → send again (nothing moved);
/// - otherwise (nothing, or another operation's finished movement) → a new
///   generation.
///
/// Runs without a running operation (the admin CLI) cannot be told apart
/// from a new operation, so for them a `Done` intent starts a new movement.
pub fn decide(stored: Option<&Intent>, run: Run) -> Decision {
    if !run.ro_open {
        return Decision::OperationGone;
    }
    let Some(i) = stored else {
        return Decision::Fresh { generation: 1 };
    };
    let next = Decision::Fresh {
        generation: i.generation + 1,
    };
    let same_op = i.op == run.op;
    let same_ro = run.ro.is_some() && i.ro == run.ro;
    match i.phase {
        Phase::Sent => Decision::Reconcile(i.clone()),
        Phase::Done if same_op && same_ro => Decision::FinishLocal(i.clone()),
        Phase::Done => next,
        Phase::Refused if same_op => Decision::Resend(i.clone()),
        // A refused movement of another op moved no money: start ours.
        Phase::Refused => next,
        // Applied upstream, local steps missing: whoever started it, the
        // money moved once and must not move again for the same op.
        Phase::Applied if same_op => Decision::FinishLocal(i.clone()),
        // Applied for another op: its local steps are that op's business.
        Phase::Applied => next,
    }
}

/// The intent as the rule reads it. An order intent not `Done` while the
/// item holds the upstream id is over: `open` stores the id after the order
/// and does not write the intent again (one `mgrctl` call less per open),
/// so the stored id is the proof that the order finished. A crash
/// between the two writes ends the same way.
pub fn effective(stored: Option<Intent>, ordered: bool) -> Option<Intent> {
    stored.map(|i| {
        if i.op == IntentOp::Open && ordered && i.phase != Phase::Done {
            i.with_phase(Phase::Done)
        } else {
            i
        }
    })
}

impl Intent {
    pub fn new(op: IntentOp, generation: u32, attempt: u32, ro: Option<u64>, now: i64) -> Intent {
        Intent {
            op,
            generation,
            attempt,
            phase: Phase::Sent,
            ro,
            sent_at: now,
            sent_at_text: unix_text(now),
            upstream_id: None,
            remoteid: None,
            cn: None,
            pricelist: None,
            period: None,
            crt_type: None,
            before: Before::default(),
            local_expiry: None,
            answered_ok: false,
            cart: None,
            not_before: None,
            auto: false,
            approver: None,
            paid_by_auto: None,
        }
    }

    /// Who owns this movement: BILLmanager's running operation [`Intent::ro`],
    /// or, with none, the module itself (its automatic reissue or renewal,
    /// or an admin's run without an operation). Only the owner finishes a
    /// movement as its own; another run settles it first from what the
    /// upstream shows (reconcile/effect.rs `settle_module_owned`).
    pub fn module_owned(&self) -> bool {
        self.ro.is_none()
    }

    /// The module's automatic action (auto.rs): marked so, or, written
    /// before the mark existed, a movement without an operation that
    /// recorded the certificate it replaces (BILLmanager's renewals do not).
    pub fn automatic(&self) -> bool {
        self.auto
            || (self.ro.is_none()
                && self.approver.is_none()
                && self.before.crt_digest.is_some()
                && matches!(self.op, IntentOp::Prolong | IntentOp::Reopen))
    }

    pub fn to_json(&self) -> String {
        // Serialising plain data cannot fail; fall back to an empty object
        // rather than panic.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Read the stored param. A value that is not an intent (hand-edited,
    /// older format) is reported, not ignored: it may hide a paid order.
    pub fn from_param(value: Option<&str>) -> Result<Option<Intent>, String> {
        match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => serde_json::from_str(v).map(Some).map_err(|e| {
                let v = crate::quote::quote(v);
                format!("item param {INTENT_PARAM} is not readable ({e}): {v}")
            }),
        }
    }

    pub fn with_phase(mut self, phase: Phase) -> Intent {
        self.phase = phase;
        self
    }

    /// Seconds since the latest send.
    pub fn age(&self, now: i64) -> i64 {
        now - self.sent_at
    }
}

/// Unix seconds → `YYYY-MM-DD HH:MM:SS` UTC.
pub fn unix_text(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Intent ages follow the module's one clock (clock.rs), so a test that
/// moves time moves settle windows with it.
pub fn now_unix() -> i64 {
    crate::clock::now_unix()
}

/// A short stable digest (FNV-1a 64) of a certificate, so the intent can tell
/// "the certificate changed" without storing it.
pub fn digest(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.trim().bytes().filter(|b| !b.is_ascii_whitespace()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(op: IntentOp, phase: Phase) -> Intent {
        Intent::new(op, 3, 1, Some(9), 1_700_000_000).with_phase(phase)
    }

    fn run(op: IntentOp, ro: Option<u64>) -> Run {
        Run {
            op,
            ro,
            ro_open: true,
        }
    }

    #[test]
    fn decisions() {
        use IntentOp::*;
        let mine = Some(9);
        let other = Some(10);
        assert_eq!(
            decide(None, run(Open, mine)),
            Decision::Fresh { generation: 1 }
        );
        let refused = intent(Prolong, Phase::Refused);
        assert_eq!(
            decide(Some(&refused), run(Prolong, mine)),
            Decision::Resend(refused.clone())
        );
        assert_eq!(
            decide(Some(&intent(Open, Phase::Refused)), run(Close, mine)),
            Decision::Fresh { generation: 4 }
        );
        let sent = intent(Open, Phase::Sent);
        assert_eq!(
            decide(Some(&sent), run(Open, other)),
            Decision::Reconcile(sent.clone())
        );
        assert_eq!(
            decide(Some(&sent), run(Close, mine)),
            Decision::Reconcile(sent.clone())
        );
        let applied = intent(Reopen, Phase::Applied);
        assert_eq!(
            decide(Some(&applied), run(Reopen, other)),
            Decision::FinishLocal(applied.clone())
        );
        assert_eq!(
            decide(Some(&applied), run(Close, mine)),
            Decision::Fresh { generation: 4 }
        );
    }

    #[test]
    fn a_finished_operation_never_pays_again() {
        use IntentOp::*;
        let done = intent(Prolong, Phase::Done);
        // Done by this very running operation: finish locally only.
        assert_eq!(
            decide(Some(&done), run(Prolong, Some(9))),
            Decision::FinishLocal(done.clone())
        );
        // Done by an earlier operation: this one is a new renewal.
        assert_eq!(
            decide(Some(&done), run(Prolong, Some(10))),
            Decision::Fresh { generation: 4 }
        );
        // Without a running operation there is nothing to tell it apart.
        assert_eq!(
            decide(Some(&done), run(Prolong, None)),
            Decision::Fresh { generation: 4 }
        );
        // The running operation is gone: nothing at all, whatever is stored.
        for stored in [None, Some(&done), Some(&intent(Prolong, Phase::Sent))] {
            let gone = Run {
                ro_open: false,
                ..run(Prolong, Some(9))
            };
            assert_eq!(decide(stored, gone), Decision::OperationGone);
        }
    }

    #[test]
    fn a_stored_upstream_id_finishes_an_order_intent() {
        use IntentOp::*;
        for phase in [Phase::Sent, Phase::Applied, Phase::Refused] {
            let open = intent(Open, phase);
            assert_eq!(
                effective(Some(open.clone()), true).map(|i| i.phase),
                Some(Phase::Done)
            );
            assert_eq!(effective(Some(open.clone()), false), Some(open));
            // Only an order is proven by the id: a renewal keeps its phase.
            let renewal = intent(Prolong, phase);
            assert_eq!(effective(Some(renewal.clone()), true), Some(renewal));
        }
        assert_eq!(effective(None, true), None);
    }

    #[test]
    fn json_round_trip_and_shape() {
        let mut i = intent(IntentOp::Open, Phase::Sent);
        i.remoteid = Some("42".into());
        i.cn = Some("example.com".into());
        i.pricelist = Some(3033);
        let j = i.to_json();
        assert!(j.contains("\"op\":\"open\""), "{j}");
        assert!(j.contains("\"phase\":\"sent\""), "{j}");
        assert!(
            j.contains("\"sent_at_text\":\"2023-11-14 22:13:20\""),
            "{j}"
        );
        assert_eq!(Intent::from_param(Some(&j)).unwrap(), Some(i));
        assert_eq!(Intent::from_param(Some("  ")).unwrap(), None);
        assert!(Intent::from_param(Some("{bad")).is_err());
    }

    #[test]
    fn digest_ignores_whitespace_only() {
        assert_eq!(digest("AB\nCD\n"), digest("AB\r\nCD"));
        assert_ne!(digest("ABCD"), digest("ABCE"));
        assert_eq!(digest("x").len(), 16);
    }
}
