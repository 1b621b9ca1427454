//! The control API under `/_sim/` (SIM-33; contract in BRIEF.md): JSON in, JSON out. Tests use it to
//! set accounts, script faults, drive issuance and the clock, flip knobs, swap the catalogue, seed
//! many orders, read the journal, all certificates and the simulator's own cost per request, and
//! write the state file now. Never reachable through `/billmgr`.

use super::catalog::Catalog;
use super::faults::Fault;
use super::http::{Request, Response};
use super::server::{Meter, Shared};
use super::sim::{Sim, MSG_FAILED};
use super::state::Account;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};

fn bad(msg: impl Into<String>) -> Response {
    Response::json(400, &json!({ "error": msg.into() }))
}

fn ok(v: Value) -> Response {
    Response::json(200, &v)
}

/// A large answer (all certificates, the journal) serialised straight from the data, without
/// building a `Value` tree of it first: it is done under the simulator lock.
fn ok_serialized<T: serde::Serialize + ?Sized>(v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(body) => Response {
            status: 200,
            content_type: "application/json",
            body,
        },
        Err(e) => Response::json(500, &json!({ "error": e.to_string() })),
    }
}

fn body_json<T: for<'de> Deserialize<'de>>(req: &Request) -> Result<T, Response> {
    let body: &[u8] = if req.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &req.body
    };
    serde_json::from_slice(body).map_err(|e| bad(format!("bad JSON body: {e}")))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
struct AccountIn {
    username: String,
    password: String,
    balance: Decimal,
    currency: String,
    #[serde(default)]
    limit: Decimal,
    #[serde(default)]
    twofa: bool,
    #[serde(default = "default_true")]
    may_delete: bool,
    #[serde(default)]
    may_suspend: bool,
    #[serde(default)]
    discount_percent: Decimal,
}

/// The account as the control API shows it; the password is never sent back.
fn account_json(a: &Account) -> Value {
    json!({
        "username": a.username,
        "balance": super::state::money(a.balance),
        "currency": a.currency,
        "limit": super::state::money(a.limit),
        "twofa": a.twofa,
        "may_delete": a.may_delete,
        "may_suspend": a.may_suspend,
        "discount_percent": a.discount_percent.to_string(),
    })
}

/// `POST /_sim/topup`: the reseller pays `amount` into the account (listed by `payment`).
#[derive(Deserialize)]
struct TopupIn {
    username: String,
    amount: Decimal,
}

/// The balance of the account that made payment `id`.
fn a_balance(sim: &Sim, id: u64) -> Decimal {
    sim.world
        .payments
        .iter()
        .find(|p| p.id == id)
        .and_then(|p| sim.world.accounts.get(&p.account))
        .map(|a| a.balance)
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
struct IdIn {
    #[serde(default)]
    id: Option<u64>,
    /// `/_sim/issue` and `/_sim/tick` for many items in one call (benchmarks move thousands).
    #[serde(default)]
    ids: Option<Vec<u64>>,
    #[serde(default)]
    msg: Option<String>,
}

impl IdIn {
    /// The items named (`id` before `ids`), or all being processed.
    fn ids_or_pending(self, sim: &Sim) -> Vec<u64> {
        match (self.id, self.ids) {
            (Some(id), _) => vec![id],
            (None, Some(ids)) => ids,
            (None, None) => sim.pending_ids(),
        }
    }
}

/// `{"advance_secs": N}` moves the clock by N seconds; `{"now": "2027-05-20"}` (or RFC 3339) sets
/// it, so a test ages every certificate to a chosen day.
#[derive(Deserialize)]
struct ClockIn {
    #[serde(default)]
    advance_secs: Option<i64>,
    #[serde(default)]
    now: Option<String>,
}

/// `POST /_sim/profile`: every knob back to its default, then the named bundle (profiles.rs).
#[derive(Deserialize)]
struct ProfileIn {
    name: String,
}

/// The endpoint as the stats name it: per-account paths counted together.
pub fn endpoint_name(req: &Request) -> String {
    let path = req.path.trim_end_matches('/');
    let path = if path.starts_with("/_sim/account/") {
        "/_sim/account/*"
    } else {
        path
    };
    format!("{} {path}", req.method)
}

pub fn handle(shared: &Shared, req: &Request, meter: &mut Meter) -> Response {
    let path = req.path.trim_end_matches('/');
    // These two are about the simulator itself, not its world: no simulator lock of their own.
    match (req.method.as_str(), path) {
        ("GET", "/_sim/stats") => return ok(shared.stats.to_json()),
        ("DELETE", "/_sim/stats") => {
            shared.stats.reset();
            return ok(json!({ "ok": true }));
        }
        ("POST", "/_sim/flush") => {
            return match shared.persist.flush(shared) {
                Ok(written) => ok(json!({ "written": written })),
                Err(e) => Response::json(500, &json!({ "error": e })),
            };
        }
        _ => {}
    }
    let resp = {
        let mut sim = meter.lock(shared);
        sim.advance_auto();
        let resp = route(&mut sim, req);
        if req.method != "GET" {
            sim.touch();
        }
        resp
    };
    if shared.persist.synchronous() {
        shared.persist.flush_reporting(shared);
    }
    resp
}

fn route(sim: &mut Sim, req: &Request) -> Response {
    let path = req.path.trim_end_matches('/');
    let method = req.method.as_str();
    if let Some(user) = path.strip_prefix("/_sim/account/") {
        if method != "GET" {
            return bad("use GET /_sim/account/<username>");
        }
        return match sim.world.accounts.get(&percent_decode(user)) {
            Some(a) => ok(account_json(a)),
            None => Response::json(404, &json!({ "error": "no such account" })),
        };
    }
    match (method, path) {
        ("POST", "/_sim/account") => match body_json::<AccountIn>(req) {
            Ok(a) => {
                if a.username.is_empty() || a.currency.is_empty() {
                    return bad("username and currency are required");
                }
                if a.discount_percent < Decimal::ZERO || a.discount_percent > Decimal::ONE_HUNDRED {
                    return bad("discount_percent must be between 0 and 100");
                }
                sim.world.put_account(Account {
                    id: 0,
                    username: a.username,
                    password: a.password,
                    balance: a.balance,
                    currency: a.currency,
                    limit: a.limit,
                    twofa: a.twofa,
                    may_delete: a.may_delete,
                    may_suspend: a.may_suspend,
                    discount_percent: a.discount_percent,
                });
                ok(json!({ "ok": true }))
            }
            Err(r) => r,
        },
        ("POST", "/_sim/topup") => match body_json::<TopupIn>(req) {
            Ok(t) => {
                let at = sim.world.now_secs();
                let Some(a) = sim.world.accounts.get_mut(&t.username) else {
                    return Response::json(404, &json!({ "error": "no such account" }));
                };
                if t.amount <= Decimal::ZERO {
                    return bad("amount must be positive");
                }
                a.balance += t.amount;
                let currency = a.currency.clone();
                let id = sim.world.payments.len() as u64 + 1;
                sim.world.payments.push(super::state::PaymentRec {
                    id,
                    account: t.username,
                    at,
                    amount: t.amount,
                    currency,
                });
                ok(json!({ "id": id, "balance": super::state::money(a_balance(sim, id)) }))
            }
            Err(r) => r,
        },
        ("POST", "/_sim/fault") => match body_json::<Fault>(req).map(Fault::checked) {
            Ok(Ok(f)) => {
                sim.faults.add(f);
                ok(json!({ "ok": true }))
            }
            Ok(Err(e)) => bad(e),
            Err(r) => r,
        },
        ("GET", "/_sim/faults") => ok(json!(sim.faults.list())),
        ("DELETE", "/_sim/faults") => {
            sim.faults.clear();
            ok(json!({ "ok": true }))
        }
        ("POST", "/_sim/issue") => match body_json::<IdIn>(req) {
            Ok(input) => {
                let ids = input.ids_or_pending(sim);
                // All checked first: one wrong id issues nothing.
                if let Some(id) = ids.iter().find(|id| !sim.is_pending(**id)) {
                    return bad(format!("item {id} is not being processed"));
                }
                for id in &ids {
                    sim.complete(*id);
                }
                ok(json!({ "issued": ids }))
            }
            Err(r) => r,
        },
        ("POST", "/_sim/tick") => match body_json::<IdIn>(req) {
            Ok(input) => {
                let ids = input.ids_or_pending(sim);
                // Items not being processed are left out of the answer, as before.
                let ids: Vec<u64> = ids.into_iter().filter(|i| sim.is_pending(*i)).collect();
                for i in &ids {
                    sim.step(*i);
                }
                ok(json!({ "advanced": ids }))
            }
            Err(r) => r,
        },
        ("POST", "/_sim/fail") => match body_json::<IdIn>(req) {
            Ok(IdIn {
                id: Some(id), msg, ..
            }) => {
                if !sim.world.items.contains_key(&id) {
                    return bad(format!("no item {id}"));
                }
                sim.fail(id, msg.as_deref().unwrap_or(MSG_FAILED));
                ok(json!({ "ok": true }))
            }
            Ok(_) => bad("{\"id\": N} required"),
            Err(r) => r,
        },
        ("POST", "/_sim/clock") => match body_json::<ClockIn>(req) {
            Ok(c) => {
                // Keep the clock within a century of now: chrono panics far outside its range.
                const LIMIT: i64 = 100 * 366 * 86_400;
                let advance = match (c.advance_secs, c.now.as_deref()) {
                    (Some(secs), None) => secs,
                    (None, Some(text)) => match super::state::parse_time(text) {
                        Some(t) => {
                            // The offset is whole seconds: rounded up, so the clock lands on
                            // or just after `now`, never a second before it (the day before,
                            // for a date).
                            let delta = t - sim.world.now();
                            let secs = delta.num_seconds();
                            if delta > chrono::Duration::seconds(secs) {
                                secs + 1
                            } else {
                                secs
                            }
                        }
                        None => {
                            return bad(format!("now {text:?} is neither RFC 3339 nor YYYY-MM-DD"))
                        }
                    },
                    _ => return bad("give exactly one of advance_secs and now"),
                };
                let offset = sim.world.clock_offset_secs.saturating_add(advance);
                if offset.abs() > LIMIT {
                    return bad("the simulator clock stays within 100 years of the real one");
                }
                sim.world.clock_offset_secs = offset;
                sim.advance_auto();
                ok(json!({ "now": sim.world.now().to_rfc3339() }))
            }
            Err(r) => r,
        },
        ("GET", "/_sim/clock") => ok(json!({ "now": sim.world.now().to_rfc3339() })),
        ("POST", "/_sim/knobs") => match body_json::<serde_json::Map<String, Value>>(req) {
            Ok(map) => {
                let mut knobs = sim.world.knobs.clone();
                for (k, v) in &map {
                    let value = match v {
                        Value::String(s) => s.clone(),
                        Value::Bool(true) => "on".to_string(),
                        Value::Bool(false) => "off".to_string(),
                        other => other.to_string(),
                    };
                    if let Err(e) = knobs.set(k, &value) {
                        return bad(e);
                    }
                }
                sim.world.knobs = knobs;
                ok(json!(sim.world.knobs.effective()))
            }
            Err(r) => r,
        },
        ("GET", "/_sim/knobs") => ok(json!(sim.world.knobs.effective())),
        ("GET", "/_sim/journal") => ok_serialized(sim.journal.entries()),
        ("DELETE", "/_sim/journal") => {
            sim.journal.clear();
            ok(json!({ "ok": true }))
        }
        ("GET", "/_sim/certificates") => {
            let items: Vec<&super::state::Item> = sim.world.items.values().collect();
            ok_serialized(&items)
        }
        ("POST", "/_sim/seed") => match body_json::<super::seed::SeedIn>(req) {
            Ok(s) => match super::seed::apply(sim, s) {
                Ok(v) => ok(v),
                Err(e) => bad(e),
            },
            Err(r) => r,
        },
        ("POST", "/_sim/catalog") => {
            let text = match String::from_utf8(req.body.clone()) {
                Ok(t) => t,
                Err(_) => return bad("catalogue is not UTF-8"),
            };
            match Catalog::parse(&text) {
                Ok(c) if c.plans.is_empty() => bad(format!("no usable plans: {:?}", c.skipped)),
                Ok(c) => {
                    let answer = json!({ "plans": c.plans.len(), "skipped": c.skipped });
                    sim.catalog = c;
                    sim.world.catalog_xml = Some(text);
                    ok(answer)
                }
                Err(e) => bad(format!("catalogue: {e}")),
            }
        }
        ("POST", "/_sim/drift") => match body_json::<super::drift::DriftIn>(req) {
            Ok(d) => match super::drift::apply(sim, d) {
                Ok(v) => ok(v),
                Err(e) => bad(e),
            },
            Err(r) => r,
        },
        ("POST", "/_sim/cart/pay") => match body_json::<super::drift::CartIn>(req) {
            Ok(c) => match super::drift::cart_pay(sim, c) {
                Ok(v) => ok(v),
                Err((status, v)) => Response::json(status, &v),
            },
            Err(r) => r,
        },
        ("POST", "/_sim/cart/drop") => match body_json::<super::drift::CartIn>(req) {
            Ok(c) => match super::drift::cart_drop(sim, c) {
                Ok(v) => ok(v),
                Err(e) => bad(e),
            },
            Err(r) => r,
        },
        ("POST", "/_sim/profile") => match body_json::<ProfileIn>(req) {
            Ok(p) => match sim.world.knobs.apply_profile(&p.name) {
                Ok(()) => ok(json!({ "name": p.name, "knobs": sim.world.knobs.effective() })),
                Err(e) => bad(e),
            },
            Err(r) => r,
        },
        ("GET", "/_sim/profile") => ok(json!({ "name": sim.world.knobs.profile() })),
        ("GET", "/_sim/ca") => ok(json!({ "root_pem": sim.ca.root_pem() })),
        ("GET", "/_sim/state") => {
            #[derive(serde::Serialize)]
            struct State<'a> {
                now: String,
                accounts: Vec<Value>,
                items: Vec<&'a super::state::Item>,
                knobs: std::collections::BTreeMap<String, String>,
                profile: &'a str,
                faults: &'a [Fault],
                plans: Vec<u64>,
            }
            ok_serialized(&State {
                now: sim.world.now().to_rfc3339(),
                accounts: sim.world.accounts.values().map(account_json).collect(),
                items: sim.world.items.values().collect(),
                knobs: sim.world.knobs.effective(),
                profile: sim.world.knobs.profile(),
                faults: sim.faults.list(),
                plans: sim.catalog.plans.iter().map(|p| p.id).collect(),
            })
        }
        _ => Response::json(
            404,
            &json!({ "error": format!("no control endpoint {method} {path}") }),
        ),
    }
}
