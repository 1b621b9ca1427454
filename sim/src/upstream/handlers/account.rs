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
