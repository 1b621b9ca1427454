//! What each mgrctl function does to the database (module-protocol.md §10.8).
//!
//! | function | effect |
//! |---|---|
//! | `paramlist` | answers the `DB*` settings of billmgr-sim.conf (no database access) |
//! | `service.postopen`, `certificate.open` | `item.status` 2, `opendate` set if empty, running operations of the item deleted |
//! | `service.postresume` | status 2, running operations deleted |
//! | `service.postsuspend` | status 3, running operations deleted |
//! | `service.postclose` | status 4 (P-U7: the value after close is a guess), running operations deleted |
//! | `service.postprolong`, `postreopen`, `postsetparam` | running operations deleted |
//! | `service.changepricelist.rollback` | a pending change of tariff undone: `pricelist` = `lastpricelist`, `lastpricelist` cleared; an error when none is pending; the running operation stays (L-MOD reports the setparam error after it) |
//! | `service.saveparam` | `name=N value=V` (C++) or `N=V crypted=on\|off` (Python): upsert `itemparam`, or `itemcryptedparam` encrypted with billmgr.pem; `name=N` without value deletes |
//! | `service.dropparam` | deletes the param from both tables |
//! | `service.setstatus` | item param `service_status` |
//! | `service.setexpiredate` | `item.expiredate` |
//! | `certificate.save` | `certificate.crt` as given and `certificate.crt_type` (our column); `crt_type=zip` with PEM text, or a base64 ZIP without it, is refused |
//! | `certificate.failed` | `certificate.failed` = on (our column) |
//! | `runningoperation.edit` | `errorxml`, `manual` (our columns) |
//! | `runningoperation.setmanual` | `manual` = on |
//! | `task.gettype` | `<task_type>` from billmgr-sim.conf (default `<operation>_failed`) |
//! | `task.edit` | new `task` row, status 0, linked from the running operation |
//! | `processing.edit` | the module's settings, crypted ones decrypted (P-U10: a guess) |
//! | `processing.import.service` | a new `item` with its `itemparam`s in one transaction (sim/src/mgrctl/import.rs) |
//! | `problems.register`, `problems.delete` | the problem register in `var/mgrctl-problems.json`, no database (sim/src/mgrctl/problems.rs) |
//! | `processing.savebalance` | `processingmodule=<id> balance=<amount> [currency=<code>]`: the module's `balance`, `balance_currency`, `balance_date` (our columns; parameter names inferred, evidence-2026-12 "getbalance") |

use std::path::Path;

use quick_xml::escape::escape;

use super::conf::{Conf, DB_KEYS};
use super::crypt::Key;
use super::db::{db_err, Db};
use super::pool::DbSlot;
use super::{Call, Caller, SimError};

/// Keys of `service.saveparam` that are not param names in the Python form;
/// also what the journal leaves unmasked in a crypted call.
pub const SAVEPARAM_STRUCTURAL: &[&str] = &["elid", "sok", "crypted", "name", "func"];

type R<T> = Result<T, SimError>;

fn required<'a>(call: &'a Call, key: &str) -> R<&'a str> {
    call.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
        SimError::new(
            "missed",
            key,
            format!("{}: parameter '{key}' is required", call.func),
        )
    })
}

fn id(call: &Call, key: &str) -> R<u64> {
    let v = required(call, key)?;
    v.parse::<u64>().map_err(|_| {
        SimError::new(
            "value",
            key,
            format!("{}: '{key}' must be a numeric id, got '{v}'", call.func),
        )
    })
}

/// Reject parameters the function does not take: a typo in the module must
/// fail here, not pass silently.
fn only(call: &Call, allowed: &[&str]) -> R<()> {
    match call
        .params
        .iter()
        .find(|(k, _)| !allowed.contains(&k.as_str()))
    {
        Some((k, _)) => Err(SimError::new(
            "value",
            k.clone(),
            format!("{}: unknown parameter '{k}'", call.func),
        )),
        None => Ok(()),
    }
}

fn on_off(call: &Call, key: &str) -> R<Option<bool>> {
    match call.get(key) {
        None => Ok(None),
        Some("on") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(v) => Err(SimError::new(
            "value",
            key,
            format!("{}: '{key}' must be on or off, got '{v}'", call.func),
        )),
    }
}

fn exists(conn: &mut Db, table: &str, id: u64) -> R<bool> {
    let n: Option<u64> = conn
        .exec_first(format!("SELECT COUNT(*) FROM {table} WHERE id = ?"), (id,))
        .map_err(db_err)?;
    Ok(n.unwrap_or(0) > 0)
}

fn existing(conn: &mut Db, call: &Call, key: &str, table: &str) -> R<u64> {
    let v = id(call, key)?;
    if !exists(conn, table, v)? {
        return Err(SimError::new(
            "missed",
            table,
            format!("{}: {table} {v} does not exist", call.func),
        ));
    }
    Ok(v)
}

fn leaf(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", escape(value))
}

/// Applies `call`; `conf` is billmgr-sim.conf, read once per call by the caller. The database
/// connection comes from `slot` (the process's own, or one of the core's pool), taken only by
/// functions that need it.
pub fn execute(
    root: &Path,
    conf: &Conf,
    caller: &Caller,
    call: &Call,
    slot: &mut DbSlot,
) -> R<String> {
    if call.func == "paramlist" {
        only(call, &[])?;
        return Ok(DB_KEYS
            .iter()
            .map(|k| {
                let v = conf.db.get(*k).map(String::as_str).unwrap_or("");
                format!("<elem>{}</elem>", leaf(k, v))
            })
            .collect());
    }
    if call.func == "task.gettype" {
        only(call, &["operation", "item"])?;
        let op = required(call, "operation")?;
        if call.get("item").is_some() {
            id(call, "item")?;
        }
        return Ok(conf
            .task_type(op)
            .map(|t| leaf("task_type", &t))
            .unwrap_or_default());
    }
    if let Some(answer) = super::problems::execute(root, call) {
        return answer;
    }
    let c = slot.get(conf)?;
    let test_now = caller.test_now.as_deref();
    match call.func.as_str() {
        // certificate.open is the certificate-type post-open (§10.2, L-GS calls
        // it instead of service.postopen): same effect, inferred.
        "service.postopen" | "certificate.open" => post(c, call, Some(2), Some(test_now)),
        "service.postresume" => post(c, call, Some(2), None),
        "service.postsuspend" => post(c, call, Some(3), None),
        // P-U7: the item status after close is unconfirmed; 4 (deleted) assumed.
        "service.postclose" => post(c, call, Some(4), None),
        "service.postprolong" | "service.postreopen" | "service.postsetparam" => {
            post(c, call, None, None)
        }
        "service.changepricelist.rollback" => changepricelist_rollback(c, call),
        "service.saveparam" => saveparam(c, root, call),
        "service.dropparam" => {
            only(call, &["elid", "name", "sok"])?;
            let item = existing(c, call, "elid", "item")?;
            let name = required(call, "name")?;
            drop_param(c, item, name)?;
            Ok("<ok/>".into())
        }
        "service.setstatus" => {
            only(call, &["elid", "service_status", "sok"])?;
            let item = existing(c, call, "elid", "item")?;
            let st = required(call, "service_status")?;
            if st.parse::<u8>().is_err() {
                return Err(SimError::new(
                    "value",
                    "service_status",
                    format!("service.setstatus: service_status must be a number, got '{st}'"),
                ));
            }
            upsert_param(c, "itemparam", item, "service_status", st)?;
            Ok("<ok/>".into())
        }
        "service.setexpiredate" => {
            only(call, &["elid", "expiredate", "sok"])?;
            let item = existing(c, call, "elid", "item")?;
            let d = required(call, "expiredate")?;
            let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                SimError::new(
                    "value",
                    "expiredate",
                    format!("service.setexpiredate: expiredate must be YYYY-MM-DD, got '{d}'"),
                )
            })?;
            c.exec_drop(
                "UPDATE item SET expiredate = ? WHERE id = ?",
                (date.format("%Y-%m-%d").to_string(), item),
            )
            .map_err(db_err)?;
            Ok("<ok/>".into())
        }
        "certificate.save" => {
            only(call, &["elid", "crt", "crt_type", "sok"])?;
            let item = existing(c, call, "elid", "item")?;
            let crt = required(call, "crt")?;
            let crt_type = match call.get("crt_type") {
                None | Some("") => None,
                Some("zip") => Some("zip"),
                Some(t) => {
                    return Err(SimError::new(
                        "value",
                        "crt_type",
                        format!("certificate.save: crt_type '{t}' unknown (only zip)"),
                    ))
                }
            };
            // A module that says zip for PEM text, or passes a base64 ZIP
            // ("UEsDB…" is "PK\x03\x04") without it, saves a certificate
            // BILLmanager cannot hand out.
            let looks_zip = crt.trim_start().starts_with("UEsDB");
            if (crt_type == Some("zip") && crt.contains("-----BEGIN"))
                || (crt_type.is_none() && looks_zip)
            {
                return Err(SimError::new(
                    "value",
                    "crt_type",
                    "certificate.save: crt_type=zip goes with a base64 ZIP, and a base64 ZIP with crt_type=zip",
                ));
            }
            c.exec_drop(
                "INSERT INTO certificate (item, crt, crt_type) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE crt = VALUES(crt), crt_type = VALUES(crt_type)",
                (item, crt, crt_type),
            )
            .map_err(db_err)?;
            Ok("<ok/>".into())
        }
        "certificate.failed" => {
            only(call, &["elid", "sok"])?;
            let item = existing(c, call, "elid", "item")?;
            c.exec_drop(
                "INSERT INTO certificate (item, failed) VALUES (?, 'on') \
                 ON DUPLICATE KEY UPDATE failed = 'on'",
                (item,),
            )
            .map_err(db_err)?;
            Ok("<ok/>".into())
        }
        "runningoperation.edit" => {
            only(call, &["elid", "errorxml", "manual", "sok"])?;
            let ro = existing(c, call, "elid", "runningoperation")?;
            if let Some(x) = call.get("errorxml") {
                c.exec_drop(
                    "UPDATE runningoperation SET errorxml = ? WHERE id = ?",
                    (x, ro),
                )
                .map_err(db_err)?;
            }
            if let Some(m) = on_off(call, "manual")? {
                set_manual(c, ro, m)?;
            }
            Ok("<ok/>".into())
        }
        "runningoperation.setmanual" => {
            only(call, &["elid", "sok"])?;
            let ro = existing(c, call, "elid", "runningoperation")?;
            set_manual(c, ro, true)?;
            Ok("<ok/>".into())
        }
        "task.edit" => task_edit(c, call),
        "processing.edit" => processing_edit(c, root, call),
        "processing.savebalance" => savebalance(c, call),
        "processing.import.service" => super::import::service(&mut c.conn, call),
        other => Err(SimError::new(
            "unknown_function",
            other,
            format!("function '{other}' is not known to the mgrctl stand-in"),
        )),
    }
}

/// `service.post*`: set the status, delete the item's running operations
/// ("set service status to 'suspended' and delete running operation", L-REG).
/// `opened`: an opening, dated by the caller's test clock when it has one.
fn post(c: &mut Db, call: &Call, status: Option<i32>, opened: Option<Option<&str>>) -> R<String> {
    only(call, &["elid", "sok"])?;
    let item = existing(c, call, "elid", "item")?;
    if let Some(st) = status {
        c.exec_drop("UPDATE item SET status = ? WHERE id = ?", (st, item))
            .map_err(db_err)?;
    }
    if let Some(test_now) = opened {
        // The open date is "today", on the test clock when one is set (the module's
        // PMSSLRESELLER_TEST_NOW), so a test's paid term starts on its own day.
        let today = test_now
            .and_then(|t| t.get(..10).map(str::to_string))
            .filter(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
        c.exec_drop(
            "UPDATE item SET opendate = COALESCE(?, CURDATE()) WHERE id = ? AND opendate IS NULL",
            (today, item),
        )
        .map_err(db_err)?;
    }
    c.exec_drop("DELETE FROM runningoperation WHERE item = ?", (item,))
        .map_err(db_err)?;
    Ok("<ok/>".into())
}

/// Undo a pending change of tariff (module-protocol.md §10.3: after a failed
/// `setparam`, when `item.lastpricelist` is set). What BILLmanager does
/// without a pending change is unknown; the stand-in refuses, so a module that
/// rolls back for nothing fails here.
fn changepricelist_rollback(c: &mut Db, call: &Call) -> R<String> {
    only(call, &["elid", "sok", "userid"])?;
    let item = existing(c, call, "elid", "item")?;
    let last: Option<Option<u64>> = c
        .exec_first("SELECT lastpricelist FROM item WHERE id = ?", (item,))
        .map_err(db_err)?;
    let Some(previous) = last.flatten().filter(|p| *p != 0) else {
        return Err(SimError::new(
            "value",
            "lastpricelist",
            format!(
                "service.changepricelist.rollback: item {item} has no pending change of tariff"
            ),
        ));
    };
    c.exec_drop(
        "UPDATE item SET pricelist = ?, lastpricelist = NULL WHERE id = ?",
        (previous, item),
    )
    .map_err(db_err)?;
    Ok("<ok/>".into())
}

fn upsert_param(c: &mut Db, table: &str, item: u64, name: &str, value: &str) -> R<()> {
    c.exec_drop(
        format!(
            "INSERT INTO {table} (item, intname, value) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE value = VALUES(value)"
        ),
        (item, name, value),
    )
    .map_err(db_err)
}

fn drop_param(c: &mut Db, item: u64, name: &str) -> R<()> {
    for table in ["itemparam", "itemcryptedparam"] {
        c.exec_drop(
            format!("DELETE FROM {table} WHERE item = ? AND intname = ?"),
            (item, name),
        )
        .map_err(db_err)?;
    }
    Ok(())
}

/// Store one param in exactly one of the two tables, in one transaction: a
/// reader (another module run, e.g. after the writer's module was killed)
/// sees the old value or the new one, never the param missing in between.
fn store_param(c: &mut Db, key: Option<&Key>, item: u64, name: &str, value: &str) -> R<()> {
    c.transaction(|tx| {
        drop_param(tx, item, name)?;
        match key {
            Some(k) => upsert_param(tx, "itemcryptedparam", item, name, &k.encrypt(value)?),
            None => upsert_param(tx, "itemparam", item, name, value),
        }
    })
}

fn saveparam(c: &mut Db, root: &Path, call: &Call) -> R<String> {
    let item = existing(c, call, "elid", "item")?;
    let crypted = on_off(call, "crypted")?.unwrap_or(false);
    let key = if crypted {
        Some(Key::load(root)?)
    } else {
        None
    };
    if let Some(name) = call.get("name") {
        // C++ form (L-MOD SaveParam/DropParam): name=N [value=V].
        only(call, &["elid", "sok", "name", "value", "crypted"])?;
        if name.is_empty() {
            return Err(SimError::new(
                "missed",
                "name",
                "service.saveparam: empty name",
            ));
        }
        match call.get("value") {
            Some(v) => store_param(c, key.as_ref(), item, name, v)?,
            None => drop_param(c, item, name)?,
        }
        return Ok("<ok/>".into());
    }
    // Python form (PYLIB save_param): N=V [crypted=on|off].
    let pairs: Vec<&(String, String)> = call
        .params
        .iter()
        .filter(|(k, _)| !SAVEPARAM_STRUCTURAL.contains(&k.as_str()))
        .collect();
    if pairs.is_empty() {
        return Err(SimError::new(
            "missed",
            "name",
            "service.saveparam: no parameter to save (name=N value=V or N=V)",
        ));
    }
    for (k, v) in pairs {
        store_param(c, key.as_ref(), item, k, v)?;
    }
    Ok("<ok/>".into())
}

fn set_manual(c: &mut Db, ro: u64, manual: bool) -> R<()> {
    c.exec_drop(
        "UPDATE runningoperation SET manual = ? WHERE id = ?",
        (if manual { "on" } else { "off" }, ro),
    )
    .map_err(db_err)
}

fn task_edit(c: &mut Db, call: &Call) -> R<String> {
    let item = existing(c, call, "item", "item")?;
    let ro = existing(c, call, "runningoperation", "runningoperation")?;
    let ty = required(call, "type")?;
    let extra: serde_json::Map<String, serde_json::Value> = call
        .params
        .iter()
        .filter(|(k, _)| !["item", "runningoperation", "type", "sok"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    c.exec_drop(
        "INSERT INTO task (runningoperation, item, type, status, params) VALUES (?, ?, ?, 0, ?)",
        (ro, item, ty, serde_json::Value::Object(extra).to_string()),
    )
    .map_err(db_err)?;
    let task = c.last_insert_id();
    c.exec_drop(
        "UPDATE runningoperation SET task = ? WHERE id = ?",
        (task, ro),
    )
    .map_err(db_err)?;
    Ok(leaf("id", &task.to_string()))
}

/// The upstream balance a module reports (evidence-2026-12 "getbalance":
/// `processingmodule`, `balance`, `currency`, `sok=ok` as seen in third-party
/// modules; `notify_time` is accepted and ignored). A balance that is not a
/// number is refused: BILLmanager would show nonsense on the dashboard.
fn savebalance(c: &mut Db, call: &Call) -> R<String> {
    only(
        call,
        &[
            "processingmodule",
            "balance",
            "currency",
            "notify_time",
            "sok",
        ],
    )?;
    let module = existing(c, call, "processingmodule", "processingmodule")?;
    let raw = required(call, "balance")?;
    let balance: rust_decimal::Decimal = raw.parse().map_err(|_| {
        SimError::new(
            "value",
            "balance",
            format!("processing.savebalance: balance must be a number like 1234.56, got '{raw}'"),
        )
    })?;
    c.exec_drop(
        "UPDATE processingmodule SET balance = ?, balance_currency = ?, balance_date = NOW() WHERE id = ?",
        (balance.to_string(), call.get("currency"), module),
    )
    .map_err(db_err)?;
    Ok("<ok/>".into())
}

/// P-U10: whether the real `processing.edit` returns crypted settings
/// decrypted is unconfirmed; the stand-in does (as L-REG's use suggests).
fn processing_edit(c: &mut Db, root: &Path, call: &Call) -> R<String> {
    only(call, &["elid"])?;
    let module = existing(c, call, "elid", "processingmodule")?;
    let row: Option<(String, String)> = c
        .exec_first(
            "SELECT module, name FROM processingmodule WHERE id = ?",
            (module,),
        )
        .map_err(db_err)?;
    let (module_name, name) = row.unwrap_or_default();
    let mut out = leaf("elid", &module.to_string());
    out.push_str(&leaf("module", &module_name));
    out.push_str(&leaf("name", &name));
    let plain: Vec<(String, String)> = c
        .exec(
            "SELECT intname, value FROM processingparam WHERE processingmodule = ?",
            (module,),
        )
        .map_err(db_err)?;
    let crypted: Vec<(String, String)> = c
        .exec(
            "SELECT intname, value FROM processingcryptedparam WHERE processingmodule = ?",
            (module,),
        )
        .map_err(db_err)?;
    let key = if crypted.is_empty() {
        None
    } else {
        Some(Key::load(root)?)
    };
    for (k, v) in plain {
        out.push_str(&leaf(&k, &v));
    }
    for (k, v) in crypted {
        if let Some(key) = &key {
            out.push_str(&leaf(&k, &key.decrypt(&v)?));
        }
    }
    Ok(out)
}
