//! `processing.import.service`: a service that exists at the provider becomes
//! a local one (module-protocol.md §10.6), applied as BILLmanager would.
//!
//! Parameters (§10.6, L-REG/RUTLD/OP-SSL): `module`, `import_itemtype_intname`,
//! `import_pricelist_intname`, `import_service_name`, `status` (2 or 3),
//! `service_status`, `expiredate`, `period`; every other key is an item
//! param. Two more are our guesses (not in any source, module-protocol.md
//! §10.6 lists neither): `opendate`, and `account` (the local client; without
//! it the stand-in takes the account with the lowest id, as an import run by
//! the admin has no client). One transaction: the service and its params
//! appear together or not at all, so a module killed half-way never leaves a
//! service without the param that links it. Answers `<service_id>N</service_id>`.

use mysql::prelude::Queryable;
use mysql::{Conn, TxOpts};

use super::{Call, SimError};

type R<T> = Result<T, SimError>;

/// Keys that describe the service rather than being item params.
const STRUCTURAL: &[&str] = &[
    "sok",
    "module",
    "import_itemtype_intname",
    "import_pricelist_intname",
    "import_service_name",
    "status",
    "expiredate",
    "opendate",
    "period",
    "account",
];

fn err(e: mysql::Error) -> SimError {
    SimError::new("database", "mysql", e.to_string())
}

fn need<'a>(call: &'a Call, key: &str) -> R<&'a str> {
    call.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
        SimError::new(
            "missed",
            key,
            format!("{}: parameter '{key}' is required", call.func),
        )
    })
}

fn number(call: &Call, key: &str) -> R<Option<u64>> {
    match call.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            SimError::new(
                "value",
                key,
                format!("{}: '{key}' must be a number, got '{v}'", call.func),
            )
        }),
    }
}

fn date(call: &Call, key: &str) -> R<Option<String>> {
    match call.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(|d| Some(d.format("%Y-%m-%d").to_string()))
            .map_err(|_| {
                SimError::new(
                    "value",
                    key,
                    format!("{}: '{key}' must be YYYY-MM-DD, got '{v}'", call.func),
                )
            }),
    }
}

pub fn service(c: &mut Conn, call: &Call) -> R<String> {
    if call.get("sok") != Some("ok") {
        return Err(SimError::new(
            "missed",
            "sok",
            "processing.import.service: sok=ok is required",
        ));
    }
    let module = number(call, "module")?
        .ok_or_else(|| SimError::new("missed", "module", "module is required"))?;
    let itemtype = need(call, "import_itemtype_intname")?;
    let pricelist_intname = need(call, "import_pricelist_intname")?;
    let name = need(call, "import_service_name")?;
    let status = number(call, "status")?
        .ok_or_else(|| SimError::new("missed", "status", "status is required"))?;
    if !matches!(status, 2 | 3) {
        return Err(SimError::new(
            "value",
            "status",
            format!("processing.import.service: status must be 2 or 3, got {status}"),
        ));
    }
    let period = number(call, "period")?.unwrap_or(12);
    let expiredate = date(call, "expiredate")?;
    let opendate = date(call, "opendate")?;
    let mut tx = c.start_transaction(TxOpts::default()).map_err(err)?;
    let known: Option<u64> = tx
        .exec_first(
            "SELECT COUNT(*) FROM processingmodule WHERE id = ?",
            (module,),
        )
        .map_err(err)?;
    if known.unwrap_or(0) == 0 {
        return Err(SimError::new(
            "missed",
            "module",
            format!("processing.import.service: processing module {module} does not exist"),
        ));
    }
    let pricelist: Option<u64> = tx
        .exec_first(
            "SELECT p.id FROM pricelist p JOIN itemtype t ON t.id = p.itemtype \
             WHERE p.intname = ? AND t.intname = ? ORDER BY p.id LIMIT 1",
            (pricelist_intname, itemtype),
        )
        .map_err(err)?;
    let pricelist = pricelist.ok_or_else(|| {
        SimError::new(
            "missed",
            "import_pricelist_intname",
            format!(
                "processing.import.service: no '{itemtype}' tariff with internal name '{pricelist_intname}'"
            ),
        )
    })?;
    let account = match number(call, "account")? {
        Some(a) => {
            let n: Option<u64> = tx
                .exec_first("SELECT COUNT(*) FROM account WHERE id = ?", (a,))
                .map_err(err)?;
            if n.unwrap_or(0) == 0 {
                return Err(SimError::new(
                    "missed",
                    "account",
                    format!("processing.import.service: account {a} does not exist"),
                ));
            }
            a
        }
        None => tx
            .query_first::<u64, _>("SELECT id FROM account ORDER BY id LIMIT 1")
            .map_err(err)?
            .ok_or_else(|| {
                SimError::new(
                    "missed",
                    "account",
                    "processing.import.service: no account to own the service",
                )
            })?,
    };
    tx.exec_drop(
        "INSERT INTO item (processingmodule, pricelist, period, status, expiredate, opendate, account, name) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (module, pricelist, period, status, expiredate, opendate, account, name),
    )
    .map_err(err)?;
    let item = tx.last_insert_id().unwrap_or(0);
    for (k, v) in call
        .params
        .iter()
        .filter(|(k, _)| !STRUCTURAL.contains(&k.as_str()))
    {
        tx.exec_drop(
            "INSERT INTO itemparam (item, intname, value) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE value = VALUES(value)",
            (item, k, v),
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(format!("<service_id>{item}</service_id>"))
}
