//! `auth` (sessions, SIM-7/8) and `whoami` (balance, SIM-14).

use super::{ApiError, Call};
use crate::upstream::sim::Sim;
use crate::upstream::state::{money, money_localized, Session};
use crate::upstream::xml::Node;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

/// Client session level in the `auth` answer (A-U12: the real value for a client is unknown).
const CLIENT_LEVEL: &str = "16";

/// A random session id; `RandomState` is seeded from OS randomness, enough for a test double.
fn new_session_id() -> String {
    let mut out = String::new();
    for i in 0..2u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// `func=auth&username&password` → `<doc><auth id="SID" level="16">SID</auth></doc>`
/// (knob `auth_shape=bm5` → `<doc><auth id="SID"/></doc>`).
pub fn auth(sim: &mut Sim, params: &BTreeMap<String, String>) -> Result<Node, ApiError> {
    let user = params
        .get("username")
        .map(String::as_str)
        .unwrap_or_default();
    let pass = params
        .get("password")
        .map(String::as_str)
        .unwrap_or_default();
    match sim.world.accounts.get(user) {
        Some(a) if !user.is_empty() && a.password == pass && !a.twofa => {}
        // Knob twofa_shape=totp_confirm: the second factor is pending, no session is usable.
        Some(a)
            if !user.is_empty()
                && a.password == pass
                && sim.world.knobs.get("twofa_shape") == "totp_confirm" =>
        {
            return Ok(super::totp_confirm())
        }
        _ => return Err(ApiError::auth(sim)),
    }
    let sid = new_session_id();
    let now = sim.world.now_secs();
    // Expired sessions are dropped here so the state file does not grow forever.
    sim.world
        .sessions
        .retain(|_, s| now - s.last_used <= crate::upstream::state::SESSION_TTL_SECS);
    sim.world.sessions.insert(
        sid.clone(),
        Session {
            username: user.to_string(),
            last_used: now,
        },
    );
    let node = if sim.world.knobs.get("auth_shape") == "bm5" {
        Node::new("auth").attr("id", sid)
    } else {
        Node::new("auth")
            .attr("id", sid.clone())
            .attr("level", CLIENT_LEVEL)
            .text(sid)
    };
    Ok(Node::new("doc").child(node))
}

/// `<doc><user level="16" name="…" id="…" account="…" balance="…" currency="…"/></doc>`, attributes as in
/// the BILLmanager 6 capture `reference/upstream/whoami.bm6-log.xml`.
pub fn whoami(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let a = sim
        .world
        .accounts
        .get(&user)
        .ok_or_else(|| ApiError::auth(sim))?;
    let balance = if sim.world.knobs.on("balance_localized") {
        money_localized(a.balance)
    } else {
        money(a.balance)
    };
    Ok(Node::new("doc").child(
        Node::new("user")
            .attr("level", CLIENT_LEVEL)
            .attr("name", a.username.clone())
            .attr("id", a.id.to_string())
            .attr("account", a.id.to_string())
            .attr("balance", balance)
            .attr("currency", a.currency.clone())
            .attr("allowsuspenditem", if a.may_suspend { "on" } else { "off" })
            .attr("allowdeleteitem", if a.may_delete { "on" } else { "off" }),
    ))
}

/// `payment`: the account's incoming payments (top-ups, `POST /_sim/topup`), one `<elem>` each with
/// the columns of the BILLmanager 6 API page "Payments (payment)": `id`, `number`, `create_date`
/// (`YYYY-MM-DD HH:MM:SS`, simulator clock), `subaccountamount_iso` (`50.00 EUR`), `status` (4 =
/// credited). Paged only when the client sends `p_cnt`. Knob `payment_list=off`: an unknown function.
pub fn payments(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let rows: Vec<&crate::upstream::state::PaymentRec> = sim
        .world
        .payments
        .iter()
        .filter(|p| p.account == user)
        .collect();
    let (skip, take) = match call.get("p_cnt").and_then(|c| c.parse::<usize>().ok()) {
        Some(cnt) if cnt > 0 => {
            let num = call
                .get("p_num")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(1)
                .max(1);
            ((num - 1) * cnt, cnt)
        }
        _ => (0, usize::MAX),
    };
    let mut doc = Node::new("doc");
    for p in rows.iter().skip(skip).take(take) {
        let when = chrono::DateTime::from_timestamp(p.at, 0)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        doc = doc.child(
            Node::new("elem")
                .child(Node::new("id").text(p.id.to_string()))
                .child(Node::new("number").text(format!("P-{}", p.id)))
                .child(Node::new("create_date").text(when))
                .child(Node::new("subaccountamount_iso").text(format!(
                    "{} {}",
                    money(p.amount),
                    p.currency
                )))
                .child(Node::new("status").text("4")),
        );
    }
    Ok(doc.child(Node::new("p_elems").text(rows.len().to_string())))
}
