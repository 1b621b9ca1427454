//! `Db`: every read from BILLmanager's MySQL database (module-protocol.md §9).
//!
//! ISPsystem's own modules read the database directly and write only through
//! mgrctl; we do the same: this file only SELECTs. Credentials come from
//! `mgrctl paramlist` (§9.1); `localhost` means the unix socket. Each query is
//! a method named after what it reads.
//!
//! Every value read is optional: no public schema says which columns may be
//! NULL or what they hold (field evidence field-2026-12 §7). So rows are read
//! as `mysql::Row`s and each value is converted by [`column`](mod@column) — never by the
//! mysql crate's typed reads, which panic on a NULL or a value they cannot
//! convert. Each reader decides, and says in its doc, what a NULL or a bad
//! value means for its use: a documented default, a row left out (and
//! returned with why, for the bulk commands to log and count), or a `billing`
//! error naming the row, the table and the column.

pub mod column;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, Row};
use rust_decimal::Decimal;

use super::crypt::CryptKey;
use super::mgrctl::Mgrctl;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::protocol::settings;
use crate::quote::{quote, shorten};
use crate::secret::{redact, Secret};
use crate::vocab::{ItemStatus, Period};
use column::{required, unusable, Bad, Problem};

/// Where MySQL/MariaDB put their socket, probed in this order when
/// `DBSocket` is empty (§9.1 plus the Debian/MariaDB path `/run/mysqld`).
pub const SOCKET_CANDIDATES: &[&str] = &[
    "/var/run/mysqld/mysqld.sock",
    "/run/mysqld/mysqld.sock",
    "/var/lib/mysql/mysql.sock",
    "/tmp/mysql.sock",
];

/// Limits for the database: our queries are small lookups by key, so a
/// longer wait means the server is in trouble.
const DB_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DB_IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Connection settings, from `paramlist` with the defaults of §9.1.
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    pub name: String,
    /// `DBSocket`, if BILLmanager names one.
    pub socket: Option<String>,
}

impl DbSettings {
    /// Keys `DBHost`, `DBUser`, `DBPassword`, `DBName`, `DBSocket`; empty →
    /// default (host `localhost`, user `root`, database `billmgr`). A host
    /// may carry a port as `host:port`.
    pub fn from_paramlist(params: &BTreeMap<String, String>) -> Result<DbSettings> {
        let get = |k: &str| {
            params
                .get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let password = Secret::new(params.get("DBPassword").cloned().unwrap_or_default());
        let host_raw = get("DBHost").unwrap_or_else(|| "localhost".into());
        let (host, port) = match host_raw.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => {
                let port = p.parse::<u16>().map_err(|_| {
                    ModuleError::new(
                        ErrorKind::Billing,
                        format!("BILLmanager's DBHost '{}' has a bad port", quote(&host_raw)),
                    )
                    .with_object("DBHost")
                })?;
                (h.to_string(), port)
            }
            _ => (host_raw.clone(), 3306),
        };
        Ok(DbSettings {
            host,
            port,
            user: get("DBUser").unwrap_or_else(|| "root".into()),
            password,
            name: get("DBName").unwrap_or_else(|| "billmgr".into()),
            socket: get("DBSocket"),
        })
    }

    /// The unix socket to use: only for `localhost`; `DBSocket` if given,
    /// else the first candidate that exists.
    pub fn socket_path(&self) -> Result<Option<String>> {
        if self.host != "localhost" {
            return Ok(None);
        }
        if let Some(s) = &self.socket {
            return Ok(Some(s.clone()));
        }
        match SOCKET_CANDIDATES.iter().find(|p| Path::new(p).exists()) {
            Some(p) => Ok(Some((*p).to_string())),
            None => Err(ModuleError::new(
                ErrorKind::Billing,
                format!(
                    "BILLmanager's database is on localhost but no MySQL socket was found (tried {}); \
                     set DBSocket in BILLmanager's configuration",
                    SOCKET_CANDIDATES.join(", ")
                ),
            )
            .with_object("DBSocket")),
        }
    }
}

/// Module settings: `processingparam` ∪ decrypted `processingcryptedparam`,
/// names from [`crate::protocol::settings`].
#[derive(Debug, Clone)]
pub struct ModuleSettings {
    pub id: u64,
    /// `processingmodule.module` (the module binary's name).
    pub module: String,
    /// `processingmodule.name` (the admin's label).
    pub name: String,
    pub url: String,
    pub username: String,
    pub password: Secret,
    pub mirror_suspend: bool,
}

/// One service: `item`, with its tariff, product type and module LEFT
/// JOINed as ISPsystem's own code does (so a missing tariff is named, not
/// taken for a missing item). What each column may hold:
///
/// | column | NULL | a value that cannot be read |
/// |---|---|---|
/// | `item.processingmodule` | no module (`None`; 0 likewise) | error |
/// | `processingmodule.module` | `None` | error |
/// | `item.pricelist`, the tariff row it names | error | error |
/// | `pricelist.intname` | empty: the tariff is linked by its other names (lifecycle `tariff.rs`) | error |
/// | `pricelist.itemtype`, `itemtype.intname` | error | error |
/// | `item.period` | [`Period::Missing`]: what needs it (an order, a renewal, the paid term) refuses, the rest goes on | the same, logged; a number that is no period is [`Period::Unknown`] |
/// | `item.status` | error | error |
/// | `item.expiredate`, `item.opendate` | not set (the zero date likewise) | error |
/// | `item.name` | empty | shown with replacement characters (a label only) |
/// | `item.lastpricelist` | no change of tariff pending (0 likewise) | error |
///
/// "error": [`Db::item`] fails with a `billing` error naming the item and the
/// column, so a command on the item stops before anything is sent;
/// [`Db::module_items`] leaves the row out and says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub id: u64,
    pub processingmodule: Option<u64>,
    /// `processingmodule.module` of that module, e.g. `pmsslreseller`.
    pub module: Option<String>,
    pub pricelist: u64,
    /// `item.lastpricelist`: set while a change of tariff is pending (the
    /// tariff before it, module-protocol.md §6.3 `setparam`).
    pub lastpricelist: Option<u64>,
    pub pricelist_intname: String,
    pub itemtype_intname: String,
    pub period: Period,
    /// Raw `item.status`; see [`ItemRow::item_status`].
    pub status: i32,
    pub expiredate: Option<NaiveDate>,
    pub opendate: Option<NaiveDate>,
    pub name: String,
}

impl ItemRow {
    pub fn item_status(&self) -> ItemStatus {
        ItemStatus::from_db(self.status)
    }
}

/// A row a bulk read left out, and why: the command logs it once and counts
/// it in its summary.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The item, when at least its id could be read.
    pub item: Option<u64>,
    pub error: ModuleError,
}

/// The items of a processing module ([`Db::module_items`]).
#[derive(Debug, Clone, Default)]
pub struct ModuleItems {
    pub items: Vec<ItemRow>,
    pub skipped: Vec<Skipped>,
}

impl ModuleItems {
    /// Every item id, read or left out: an item whose row is unreadable still
    /// owns its upstream certificate.
    pub fn all_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.items
            .iter()
            .map(|i| i.id)
            .chain(self.skipped.iter().filter_map(|s| s.item))
    }
}

/// Named params of every item of a module ([`Db::module_item_params`]).
#[derive(Debug, Clone, Default)]
pub struct ModuleParams {
    /// Item → its params of the names asked for.
    pub by_item: BTreeMap<u64, BTreeMap<String, String>>,
    /// Items whose params could not all be read (in none of `by_item`): what
    /// they hold is unknown, which is not the same as "not set".
    pub unreadable: BTreeMap<u64, ModuleError>,
}

/// An item's account, for the deploy hook ([`Db::item_account`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountRow {
    pub id: u64,
    pub name: String,
    /// The e-mail of the account's first user; empty when none.
    pub email: String,
}

/// `certificate` row of an item; empty columns are `None`. `pkey` (the
/// private key) is not read: nothing uses it, and a key not read cannot leak.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateRow {
    pub csr: Option<String>,
    pub crt: Option<String>,
}

impl std::fmt::Debug for CertificateRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = |v: &Option<String>| v.as_ref().map(|s| format!("<{} bytes>", s.len()));
        f.debug_struct("CertificateRow")
            .field("csr", &size(&self.csr))
            .field("crt", &size(&self.crt))
            .finish()
    }
}

/// One group of [`Db::service_costs`]: the certificate services of one
/// tariff, period, status and cost. Each value as read: what a NULL or a bad
/// one means for the price check is `commands::price_watch::local_prices`'s
/// decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCost {
    /// `pricelist.intname`.
    pub tariff: std::result::Result<String, Problem>,
    pub period: std::result::Result<Period, Problem>,
    /// Raw `item.status`.
    pub status: std::result::Result<i32, Problem>,
    /// `item.cost`.
    pub cost: std::result::Result<Option<Decimal>, Bad>,
    /// Services in the group.
    pub services: u64,
    /// The lowest item id of the group, to name it.
    pub first_item: Option<u64>,
}

/// An item's customer and price as the books record them ([`Db::item_books`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemBooks {
    pub account: Option<u64>,
    pub account_name: Option<String>,
    /// `item.cost`: the price of one period, local currency.
    pub sell: Option<Decimal>,
}

/// `runningoperation` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningOperation {
    pub id: u64,
    /// `runningoperation.item` (only shown; `None` when unreadable).
    pub item: Option<u64>,
    /// `trycount`, a count past `u32` taken as `u32::MAX`; `Err` says what
    /// else it holds (NULL, not a number): the retry cap decides
    /// (`commands::lifecycle::failure`).
    pub trycount: std::result::Result<u32, Problem>,
}

/// Task statuses that count as "a task exists" (L-MOD common.h: 0 open,
/// 1 in work, 2 closed).
const TASK_NOT_CLOSED: &str = "status IN (0, 1)";

/// A connection to BILLmanager's database.
pub struct Db {
    conn: Conn,
    /// Kept so the bulk sync can open more connections of the same kind
    /// ([`Db::another`]) without asking `mgrctl paramlist` again.
    settings: DbSettings,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

/// The object of every error of this process's own database connection.
const DATABASE_OBJECT: &str = "database";

/// `e` came from this process's own database connection (a `mgrctl` call's
/// failure names its function instead).
pub fn is_database_error(e: &ModuleError) -> bool {
    e.object.as_deref() == Some(DATABASE_OBJECT)
}

fn db_error(what: &str, e: impl std::fmt::Display) -> ModuleError {
    ModuleError::new(
        ErrorKind::Billing,
        format!("BILLmanager's database: {what}: {}", redact(&e.to_string())),
    )
    .with_object(DATABASE_OBJECT)
}

/// A failed connection in plain words: what is wrong and what to check,
/// instead of the driver's `MySqlError { ERROR 1049 … }` dump. The database
/// name, user and password come from BILLmanager (`mgrctl paramlist`,
/// module-protocol.md §9.1), so that is where the admin looks.
fn connect_error(s: &DbSettings, via: &str, e: &mysql::Error) -> ModuleError {
    let (name, user) = (quote(&s.name), quote(&s.user));
    let check = "check DBName, DBUser, DBPassword and DBHost in BILLmanager's configuration \
                 (`mgrctl -m billmgr paramlist` shows them)";
    let text = match e {
        mysql::Error::MySqlError(me) => match me.code {
            1049 => format!(
                "BILLmanager's database '{name}' does not exist on the server at {via}; {check}"
            ),
            1044 | 1045 | 1698 => format!(
                "the database server at {via} refused user '{user}' (wrong password, or no access \
                 to '{name}'); {check}"
            ),
            code => format!(
                "the database server at {via} refused the connection to '{name}' as '{user}': {} \
                 (MySQL error {code}); {check}",
                me.message
            ),
        },
        mysql::Error::IoError(io) => format!(
            "cannot reach BILLmanager's database server at {via} ({}): is MariaDB/MySQL running \
             there? {check}",
            io.kind()
        ),
        mysql::Error::DriverError(d) => format!(
            "cannot connect to BILLmanager's database '{name}' at {via}: {d}; is MariaDB/MySQL \
             running there? {check}"
        ),
        other => format!(
            "cannot connect to BILLmanager's database '{name}' as '{user}' via {via}: {other}"
        ),
    };
    ModuleError::new(ErrorKind::Billing, redact(&text)).with_object(DATABASE_OBJECT)
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// Columns of [`ITEM_SELECT`], by position.
mod item_col {
    pub const ID: usize = 0;
    pub const PROCESSINGMODULE: usize = 1;
    pub const MODULE: usize = 2;
    pub const PRICELIST: usize = 3;
    pub const PRICELIST_ROW: usize = 4;
    pub const PRICELIST_INTNAME: usize = 5;
    pub const ITEMTYPE_ROW: usize = 6;
    pub const ITEMTYPE_INTNAME: usize = 7;
    pub const PERIOD: usize = 8;
    pub const STATUS: usize = 9;
    pub const EXPIREDATE: usize = 10;
    pub const OPENDATE: usize = 11;
    pub const NAME: usize = 12;
    pub const LASTPRICELIST: usize = 13;
}

const ITEM_SELECT: &str =
    "SELECT i.id, i.processingmodule, pm.module, i.pricelist, p.id, p.intname, \
     it.id, it.intname, i.period, i.status, i.expiredate, i.opendate, i.name, i.lastpricelist \
     FROM item i LEFT JOIN pricelist p ON p.id = i.pricelist \
     LEFT JOIN itemtype it ON it.id = p.itemtype \
     LEFT JOIN processingmodule pm ON pm.id = i.processingmodule";

/// What the admin does about a bad value in a column of an item row.
fn item_fix(column: &str) -> &'static str {
    match column {
        "item.pricelist" => "give the service a tariff that exists, then rerun",
        "pricelist.itemtype" | "itemtype.intname" => {
            "check the product type of the service's tariff, then rerun"
        }
        "item.period" => {
            "set the service's period (months) in BILLmanager, then rerun; nothing was sent upstream"
        }
        "item.status" => "check the service's status in BILLmanager, then rerun",
        "item.expiredate" | "item.opendate" => {
            "set the service's date or clear it in BILLmanager, then rerun"
        }
        "item.lastpricelist" => {
            "a pending change of tariff cannot be read: finish or roll it back in BILLmanager, then rerun"
        }
        _ => "correct it in BILLmanager, then rerun",
    }
}

/// An item row, with each column decided as [`ItemRow`] says.
fn item_from(row: &Row) -> Result<ItemRow> {
    use item_col as c;
    let id = required(column::uint(row.as_ref(c::ID)))
        .map_err(|p| unusable("an item row", "item.id", &p, "check the item table"))?;
    let whose = format!("item {id}");
    let bad = |column: &str, p: Problem| unusable(&whose, column, &p, item_fix(column));
    // 0 is how an unset reference may be stored, as NULL is.
    let reference = |i: usize, column: &str| -> Result<Option<u64>> {
        column::uint(row.as_ref(i))
            .map(|v| v.filter(|n| *n != 0))
            .map_err(|b| bad(column, b.into()))
    };
    let pricelist =
        required(column::uint(row.as_ref(c::PRICELIST))).map_err(|p| bad("item.pricelist", p))?;
    if matches!(row.as_ref(c::PRICELIST_ROW), Some(mysql::Value::NULL)) {
        return Err(ModuleError::new(
            ErrorKind::Billing,
            format!(
                "{whose}: its tariff {pricelist} (item.pricelist) does not exist in BILLmanager's database; {}",
                item_fix("item.pricelist")
            ),
        )
        .with_object("item.pricelist"));
    }
    if matches!(row.as_ref(c::ITEMTYPE_ROW), Some(mysql::Value::NULL)) {
        return Err(ModuleError::new(
            ErrorKind::Billing,
            format!(
                "{whose}: the product type of its tariff {pricelist} (pricelist.itemtype) does not exist in \
                 BILLmanager's database; {}",
                item_fix("pricelist.itemtype")
            ),
        )
        .with_object("pricelist.itemtype"));
    }
    // Only an order, a renewal and the paid term need the period: a service
    // without a readable one is still synced, suspended, closed.
    let period = match column::int(row.as_ref(c::PERIOD)) {
        Ok(Some(v)) => Period::from_db(v),
        Ok(None) => {
            log::warn!("{whose}: item.period is NULL; nothing is ordered, renewed or dated by it");
            Period::Missing
        }
        Err(b) => {
            log::warn!(
                "{}; nothing is ordered, renewed or dated by it",
                bad("item.period", b.into()).message
            );
            Period::Missing
        }
    };
    let status = required(column::int(row.as_ref(c::STATUS)))
        .and_then(|s| i32::try_from(s).map_err(|_| Problem::Bad(Bad::OutOfRange(s.to_string()))))
        .map_err(|p| bad("item.status", p))?;
    Ok(ItemRow {
        id,
        processingmodule: reference(c::PROCESSINGMODULE, "item.processingmodule")?,
        module: column::text(row.as_ref(c::MODULE))
            .map_err(|b| bad("processingmodule.module", b.into()))?,
        pricelist,
        lastpricelist: reference(c::LASTPRICELIST, "item.lastpricelist")?,
        pricelist_intname: column::text(row.as_ref(c::PRICELIST_INTNAME))
            .map_err(|b| bad("pricelist.intname", b.into()))?
            .unwrap_or_default(),
        itemtype_intname: required(column::text(row.as_ref(c::ITEMTYPE_INTNAME)))
            .map_err(|p| bad("itemtype.intname", p))?,
        period,
        status,
        expiredate: column::date(row.as_ref(c::EXPIREDATE))
            .map_err(|b| bad("item.expiredate", b.into()))?,
        opendate: column::date(row.as_ref(c::OPENDATE))
            .map_err(|b| bad("item.opendate", b.into()))?,
        name: column::text_for_display(row.as_ref(c::NAME)).unwrap_or_default(),
    })
}

/// `(intname, value)` of a param row, both required: a param whose name or
/// value is NULL or not UTF-8 is not "not set" (an upstream id or an intent
/// read as absent could make money move twice), so it is an error.
fn param_from(
    whose: &str,
    table: &str,
    name: Option<&mysql::Value>,
    value: Option<&mysql::Value>,
) -> Result<(String, String)> {
    let name = required(column::text(name)).map_err(|p| {
        unusable(
            whose,
            &format!("{table}.intname"),
            &p,
            &format!("delete that {table} row or name it, then rerun"),
        )
    })?;
    let value = required(column::text(value)).map_err(|p| {
        unusable(
            &format!("{whose}, param '{}'", shorten(&name, 64)),
            &format!("{table}.value"),
            &p,
            "save the param again (or delete it) in BILLmanager, then rerun",
        )
    })?;
    Ok((name, value))
}

/// A module setting's row: `Some((name, value))` for a setting of ours with a
/// value; `None` for one of no use (someone else's name, an unreadable name,
/// NULL: not set); a value of ours that cannot be read is an error.
fn setting_from(
    module_id: u64,
    table: &str,
    row: &Row,
    ours: impl Fn(&str) -> bool,
) -> Result<Option<(String, String)>> {
    let name = match column::text(row.as_ref(0)) {
        Ok(Some(n)) if ours(&n) => n,
        Ok(_) => return Ok(None),
        Err(b) => {
            log::warn!("processing module {module_id}: a {table} row whose intname {b} is ignored");
            return Ok(None);
        }
    };
    match column::text(row.as_ref(1)) {
        Ok(v) => Ok(v.map(|v| (name, v))),
        Err(b) => Err(unusable(
            &format!("processing module {module_id}, setting '{name}'"),
            &format!("{table}.value"),
            &b.into(),
            "enter the setting again in the module's integration settings",
        )),
    }
}

impl Db {
    /// Connect with the credentials BILLmanager gives through `paramlist`.
    pub fn connect(mgrctl: &Mgrctl) -> Result<Db> {
        let params = mgrctl.paramlist()?;
        Db::connect_with(&DbSettings::from_paramlist(&params)?)
    }

    pub fn connect_with(s: &DbSettings) -> Result<Db> {
        let socket = s.socket_path()?;
        let mut opts = OptsBuilder::new()
            .ip_or_hostname(Some(s.host.clone()))
            .tcp_port(s.port)
            .user(Some(s.user.clone()))
            .db_name(Some(s.name.clone()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(DB_CONNECT_TIMEOUT))
            .read_timeout(Some(DB_IO_TIMEOUT))
            .write_timeout(Some(DB_IO_TIMEOUT))
            .init(vec!["SET NAMES utf8mb4"]);
        if !s.password.is_empty() {
            opts = opts.pass(Some(s.password.expose().to_string()));
        }
        if let Some(path) = &socket {
            opts = opts.socket(Some(path.clone()));
        }
        let via = socket.as_deref().map_or_else(
            || format!("{}:{}", s.host, s.port),
            |p| format!("socket {p}"),
        );
        log::debug!("connecting to database {} as {} via {via}", s.name, s.user);
        let conn = Conn::new(opts).map_err(|e| connect_error(s, &via, &e))?;
        Ok(Db {
            conn,
            settings: s.clone(),
        })
    }

    /// A second connection with the same settings (the bulk sync's workers
    /// each read over their own).
    pub fn another(&self) -> Result<Db> {
        Db::connect_with(&self.settings)
    }

    /// The server still answers on this connection.
    pub fn alive(&mut self) -> bool {
        self.conn.ping().is_ok()
    }

    /// Replace a connection the server dropped with a new one of the same
    /// settings.
    pub fn reconnect(&mut self) -> Result<()> {
        *self = self.another()?;
        Ok(())
    }

    /// `(processingmodule.module, processingmodule.name)`: the module type
    /// and the admin's label, read before any setting (whose meaning
    /// depends on the type). The type is required (without it the module
    /// cannot be told ours); the label is only shown.
    pub fn processing_module(&mut self, module_id: u64) -> Result<(String, String)> {
        let row: Option<Row> = self
            .conn
            .exec_first(
                "SELECT module, name FROM processingmodule WHERE id = ?",
                (module_id,),
            )
            .map_err(|e| db_error("reading processingmodule", e))?;
        let row = row.ok_or_else(|| {
            ModuleError::new(
                ErrorKind::Billing,
                format!("processing module {module_id} does not exist in BILLmanager"),
            )
            .with_object("processingmodule")
        })?;
        let module = required(column::text(row.as_ref(0))).map_err(|p| {
            unusable(
                &format!("processing module {module_id}"),
                "processingmodule.module",
                &p,
                "check the processing module's type in BILLmanager",
            )
        })?;
        let name = column::text_for_display(row.as_ref(1)).unwrap_or_default();
        Ok((module, name))
    }

    /// Ids of the active processing modules of type `module` (`active =
    /// 'on'`). A row whose id cannot be read is left out (logged).
    pub fn active_modules(&mut self, module: &str) -> Result<Vec<u64>> {
        let rows: Vec<Row> = self
            .conn
            .exec(
                "SELECT id FROM processingmodule WHERE module = ? AND active = 'on' ORDER BY id",
                (module,),
            )
            .map_err(|e| db_error("reading processingmodule", e))?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            match column::uint(row.as_ref(0)) {
                Ok(Some(id)) => ids.push(id),
                other => {
                    log::warn!(
                    "an active {module} processing module whose processingmodule.id {} is left out",
                    other.err().map_or_else(|| "is NULL".to_string(), |b| b.to_string())
                )
                }
            }
        }
        Ok(ids)
    }

    /// Module settings with the password decrypted into a `Secret`. Whether
    /// the module is ours is the caller's check
    /// (`commands::module::our_module_settings`, the one wording).
    ///
    /// Only our own settings are looked at: a NULL value is "not set" (a
    /// required one then fails below, saying to fill it in); a value of ours
    /// that is not UTF-8 is an error naming it; other rows, and rows whose
    /// name cannot be read, are of no use and left alone.
    pub fn module_settings(&mut self, module_id: u64, key: &CryptKey) -> Result<ModuleSettings> {
        let (module, name) = self.processing_module(module_id)?;
        let plain: Vec<Row> = self
            .conn
            .exec(
                "SELECT intname, value FROM processingparam WHERE processingmodule = ?",
                (module_id,),
            )
            .map_err(|e| db_error("reading processingparam", e))?;
        let crypted: Vec<Row> = self
            .conn
            .exec(
                "SELECT intname, value FROM processingcryptedparam WHERE processingmodule = ?",
                (module_id,),
            )
            .map_err(|e| db_error("reading processingcryptedparam", e))?;
        let known = |n: &str| settings::MODULE_PARAMS.iter().any(|p| p.name == n);
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for row in &plain {
            if let Some((k, v)) = setting_from(module_id, "processingparam", row, known)? {
                values.insert(k, v);
            }
        }
        let mut password = Secret::new("");
        // Decrypt only the crypted settings we know: each RSA decryption
        // costs time, and an unknown one is of no use.
        let known_crypted = |n: &str| {
            settings::MODULE_PARAMS
                .iter()
                .any(|p| p.crypted && p.name == n)
        };
        for row in &crypted {
            let Some((name, value)) =
                setting_from(module_id, "processingcryptedparam", row, known_crypted)?
            else {
                continue;
            };
            let clear = key.decrypt(&value).map_err(|e| {
                ModuleError::new(
                    ErrorKind::Config,
                    format!(
                        "processing module {module_id}: cannot decrypt setting '{name}': {}; \
                         enter it again in the module settings",
                        e.message
                    ),
                )
                .with_object(name.clone())
            })?;
            if name == settings::PASSWORD {
                password = Secret::new(clear);
            }
        }
        if password.is_empty() {
            // Some installations might keep it unencrypted; accept that too.
            if let Some(p) = values.remove(settings::PASSWORD) {
                password = Secret::new(p);
            }
        }
        values.remove(settings::PASSWORD);
        for p in settings::MODULE_PARAMS.iter().filter(|p| p.required) {
            let present = if p.name == settings::PASSWORD {
                !password.is_empty()
            } else {
                values.get(p.name).is_some_and(|v| !v.trim().is_empty())
            };
            if !present {
                return Err(ModuleError::new(
                    ErrorKind::Config,
                    format!(
                        "processing module {module_id} ('{name}') has no '{}' setting; \
                         fill it in the module's integration settings",
                        p.name
                    ),
                )
                .with_object(p.name));
            }
        }
        let get = |k: &str| {
            values
                .get(k)
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        Ok(ModuleSettings {
            id: module_id,
            module,
            name,
            url: get(settings::URL),
            username: get(settings::USERNAME),
            password,
            mirror_suspend: settings::is_on(
                values.get(settings::MIRROR_SUSPEND).map(|s| s.as_str()),
            ),
        })
    }

    /// One item with its tariff, product type and module ([`ItemRow`] says
    /// what each column may hold).
    pub fn item(&mut self, item_id: u64) -> Result<ItemRow> {
        let q = format!("{ITEM_SELECT} WHERE i.id = ?");
        let row: Option<Row> = self
            .conn
            .exec_first(q, (item_id,))
            .map_err(|e| db_error("reading item", e))?;
        match row {
            Some(r) => item_from(&r),
            None => Err(ModuleError::new(
                ErrorKind::Billing,
                format!("item {item_id} does not exist in BILLmanager's database"),
            )
            .with_object("item")),
        }
    }

    /// Every item of a processing module, by id. A row [`ItemRow`] cannot
    /// take is left out with why (in [`ModuleItems::skipped`]), so one bad
    /// row costs that row only; the caller logs and counts it.
    pub fn module_items(&mut self, module_id: u64) -> Result<ModuleItems> {
        let q = format!("{ITEM_SELECT} WHERE i.processingmodule = ? ORDER BY i.id");
        let rows: Vec<Row> = self
            .conn
            .exec(q, (module_id,))
            .map_err(|e| db_error("reading items of the module", e))?;
        let mut out = ModuleItems::default();
        for row in &rows {
            match item_from(row) {
                Ok(item) => out.items.push(item),
                Err(error) => out.skipped.push(Skipped {
                    item: column::uint(row.as_ref(item_col::ID)).ok().flatten(),
                    error,
                }),
            }
        }
        Ok(out)
    }

    /// For the bulk sync's "does it need a look" decision, in two queries for
    /// the whole module instead of two per item: the params `names` of every
    /// item of `module`, from `itemparam`. Items that keep one of these
    /// names in `itemcryptedparam` (which wins, as in [`Db::item_params`])
    /// get their params read in full and decrypted. An item with a param it
    /// cannot read is in [`ModuleParams::unreadable`] instead (what it holds
    /// is unknown, not "not set"); a row whose item cannot be read is left out
    /// (logged).
    pub fn module_item_params(
        &mut self,
        module_id: u64,
        names: &[&str],
        key: &CryptKey,
    ) -> Result<ModuleParams> {
        let mut out = ModuleParams::default();
        if names.is_empty() {
            return Ok(out);
        }
        let marks = vec!["?"; names.len()].join(", ");
        let mut args: Vec<mysql::Value> = vec![module_id.into()];
        args.extend(names.iter().map(|n| mysql::Value::from(*n)));
        let plain: Vec<Row> = self
            .conn
            .exec(
                format!(
                    "SELECT p.item, p.intname, p.value FROM itemparam p JOIN item i ON i.id = p.item \
                     WHERE i.processingmodule = ? AND p.intname IN ({marks})"
                ),
                args.clone(),
            )
            .map_err(|e| db_error("reading itemparam of the module", e))?;
        let crypted: Vec<Row> = self
            .conn
            .exec(
                format!(
                    "SELECT DISTINCT p.item FROM itemcryptedparam p JOIN item i ON i.id = p.item \
                     WHERE i.processingmodule = ? AND p.intname IN ({marks})"
                ),
                args,
            )
            .map_err(|e| db_error("reading itemcryptedparam of the module", e))?;
        let item_of = |row: &Row, table: &str| match column::uint(row.as_ref(0)) {
            Ok(Some(item)) => Some(item),
            other => {
                log::warn!(
                    "processing module {module_id}: a {table} row whose item {} is left out",
                    other
                        .err()
                        .map_or_else(|| "is NULL".to_string(), |b| b.to_string())
                );
                None
            }
        };
        for row in &plain {
            let Some(item) = item_of(row, "itemparam") else {
                continue;
            };
            if out.unreadable.contains_key(&item) {
                continue;
            }
            match param_from(
                &format!("item {item}"),
                "itemparam",
                row.as_ref(1),
                row.as_ref(2),
            ) {
                Ok((name, value)) => {
                    out.by_item.entry(item).or_default().insert(name, value);
                }
                Err(e) => {
                    out.by_item.remove(&item);
                    out.unreadable.insert(item, e);
                }
            }
        }
        for row in &crypted {
            let Some(item) = item_of(row, "itemcryptedparam") else {
                continue;
            };
            if out.unreadable.contains_key(&item) {
                continue;
            }
            match self.item_params(item, key) {
                Ok(mut all) => {
                    all.retain(|k, _| names.contains(&k.as_str()));
                    out.by_item.insert(item, all);
                }
                Err(e) => {
                    out.by_item.remove(&item);
                    out.unreadable.insert(item, e);
                }
            }
        }
        Ok(out)
    }

    /// `itemparam` ∪ decrypted `itemcryptedparam` (a crypted one wins). A
    /// param whose name or value is NULL or not UTF-8 is an error naming it:
    /// taken as "not set", an upstream id or an intent could make money move
    /// twice.
    pub fn item_params(
        &mut self,
        item_id: u64,
        key: &CryptKey,
    ) -> Result<BTreeMap<String, String>> {
        let plain: Vec<Row> = self
            .conn
            .exec(
                "SELECT intname, value FROM itemparam WHERE item = ?",
                (item_id,),
            )
            .map_err(|e| db_error("reading itemparam", e))?;
        let crypted: Vec<Row> = self
            .conn
            .exec(
                "SELECT intname, value FROM itemcryptedparam WHERE item = ?",
                (item_id,),
            )
            .map_err(|e| db_error("reading itemcryptedparam", e))?;
        let whose = format!("item {item_id}");
        let mut out = BTreeMap::new();
        for row in &plain {
            let (name, value) = param_from(&whose, "itemparam", row.as_ref(0), row.as_ref(1))?;
            out.insert(name, value);
        }
        for row in &crypted {
            let (name, value) =
                param_from(&whose, "itemcryptedparam", row.as_ref(0), row.as_ref(1))?;
            let clear = key.decrypt(&value).map_err(|e| {
                ModuleError::new(
                    ErrorKind::Billing,
                    format!(
                        "item {item_id}: cannot decrypt item param '{}': {}",
                        shorten(&name, 64),
                        e.message
                    ),
                )
                .with_object(name.clone())
            })?;
            out.insert(name, clear);
        }
        Ok(out)
    }

    /// The item's `certificate` row (CSR, issued certificate). NULL or empty
    /// is "none"; a CSR or certificate that is not UTF-8 is an error naming
    /// the column (never guessed at: it is sent upstream or compared).
    pub fn certificate(&mut self, item_id: u64) -> Result<Option<CertificateRow>> {
        let row: Option<Row> = self
            .conn
            .exec_first(
                "SELECT csr, crt FROM certificate WHERE item = ?",
                (item_id,),
            )
            .map_err(|e| db_error("reading certificate", e))?;
        let Some(row) = row else { return Ok(None) };
        let whose = format!("item {item_id}");
        let pem = |i: usize, column: &str, fix: &str| {
            column::text(row.as_ref(i))
                .map(non_empty)
                .map_err(|b| unusable(&whose, column, &b.into(), fix))
        };
        Ok(Some(CertificateRow {
            csr: pem(
                0,
                "certificate.csr",
                "the client must submit the certificate signing request again",
            )?,
            crt: pem(
                1,
                "certificate.crt",
                "clear the stored certificate; the next sync saves the upstream one",
            )?,
        }))
    }

    /// The item's account: its id, name and the e-mail of its first user
    /// (module-protocol.md §9.3: `item.account` ⋈ `account`; the `user`
    /// table's `email` column is our reading of BILLmanager's schema). For the
    /// deploy hook's environment; `None` for an item without an account row.
    pub fn item_account(&mut self, item_id: u64) -> Result<Option<AccountRow>> {
        let row: Option<Row> = self
            .conn
            .exec_first(
                "SELECT a.id, a.name, (SELECT u.email FROM user u WHERE u.account = a.id ORDER BY u.id LIMIT 1) \
                 FROM item i JOIN account a ON a.id = i.account WHERE i.id = ?",
                (item_id,),
            )
            .map_err(|e| db_error("reading the item's account", e))?;
        let Some(row) = row else { return Ok(None) };
        let text = |i: usize| {
            column::text(row.as_ref(i))
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        Ok(Some(AccountRow {
            id: text(0).parse().unwrap_or_default(),
            name: text(1),
            email: text(2),
        }))
    }

    /// The private key BILLmanager keeps for the item (`certificate.pkey`,
    /// module-protocol.md §12.3: "private key if BILLmanager generated it"),
    /// read only for a deploy hook that asks for it (`[deploy] include_key`).
    /// Empty is `None`.
    pub fn certificate_private_key(&mut self, item_id: u64) -> Result<Option<Secret>> {
        let row: Option<Row> = self
            .conn
            .exec_first("SELECT pkey FROM certificate WHERE item = ?", (item_id,))
            .map_err(|e| db_error("reading certificate", e))?;
        let Some(row) = row else { return Ok(None) };
        let key = column::text(row.as_ref(0)).map_err(|b| {
            unusable(
                &format!("item {item_id}"),
                "certificate.pkey",
                &b.into(),
                "the private key is not text; install the certificate by hand",
            )
        })?;
        Ok(key.filter(|k| !k.trim().is_empty()).map(Secret::new))
    }

    /// Only columns of BILLmanager's documented `runningoperation` API (D-RO:
    /// id, item, trycount, …). Where BILLmanager keeps the "manual" flag is
    /// unknown (§10.8), so it is not read: "already handled" is decided by
    /// an open task, as ISPsystem's base class does (§11.3).
    pub fn running_operation(&mut self, id: u64) -> Result<Option<RunningOperation>> {
        let row: Option<Row> = self
            .conn
            .exec_first(
                "SELECT item, trycount FROM runningoperation WHERE id = ?",
                (id,),
            )
            .map_err(|e| db_error("reading runningoperation", e))?;
        Ok(row.map(|r| RunningOperation {
            id,
            item: column::uint(r.as_ref(0)).ok().flatten(),
            trycount: required(column::uint(r.as_ref(1)))
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        }))
    }

    /// Whether any running operation of BILLmanager exists for the item: while
    /// one does, BILLmanager may have moved the item's dates for it (a paid
    /// renewal moves the expiry at payment, field-2026-12 §6), so the module
    /// does not take them for settled.
    pub fn item_has_running_operation(&mut self, item_id: u64) -> Result<bool> {
        let row: Option<Row> = self
            .conn
            .exec_first(
                "SELECT COUNT(*) FROM runningoperation WHERE item = ?",
                (item_id,),
            )
            .map_err(|e| db_error("reading runningoperation", e))?;
        let n = match row {
            Some(r) => column::count(r.as_ref(0))
                .map_err(|b| db_error("counting running operations", b))?,
            None => 0,
        };
        Ok(n > 0)
    }

    /// Whether an admin task (open or in work) exists for the operation.
    pub fn has_open_task(&mut self, ro: u64) -> Result<bool> {
        let q =
            format!("SELECT COUNT(*) FROM task WHERE runningoperation = ? AND {TASK_NOT_CLOSED}");
        let row: Option<Row> = self
            .conn
            .exec_first(q, (ro,))
            .map_err(|e| db_error("reading task", e))?;
        let n = match row {
            Some(r) => column::count(r.as_ref(0)).map_err(|b| db_error("counting tasks", b))?,
            None => 0,
        };
        Ok(n > 0)
    }

    /// One plain item param as stored now (`itemparam`), for reading back a
    /// write made through `mgrctl` before money moves. NULL is "nothing
    /// stored"; a value that is not UTF-8 is an error naming it.
    pub fn item_param(&mut self, item_id: u64, name: &str) -> Result<Option<String>> {
        let row: Option<Row> = self
            .conn
            .exec_first(
                "SELECT value FROM itemparam WHERE item = ? AND intname = ?",
                (item_id, name),
            )
            .map_err(|e| db_error("reading itemparam", e))?;
        match row {
            None => Ok(None),
            Some(r) => column::text(r.as_ref(0)).map_err(|b| {
                unusable(
                    &format!("item {item_id}, param '{}'", shorten(name, 64)),
                    "itemparam.value",
                    &b.into(),
                    "save the param again (or delete it) in BILLmanager, then rerun",
                )
            }),
        }
    }

    /// `country.iso2` of BILLmanager's numeric country id (OP-SSL stores
    /// `org_country` as that id). NULL or empty: `None` (the caller keeps the
    /// id, as for a country not found); not UTF-8: an error (it would be
    /// sent upstream in an order).
    pub fn country_iso2(&mut self, country_id: u64) -> Result<Option<String>> {
        let row: Option<Row> = self
            .conn
            .exec_first("SELECT iso2 FROM country WHERE id = ?", (country_id,))
            .map_err(|e| db_error("reading country", e))?;
        match row {
            None => Ok(None),
            Some(r) => column::text(r.as_ref(0)).map(non_empty).map_err(|b| {
                unusable(
                    &format!("country {country_id}"),
                    "country.iso2",
                    &b.into(),
                    "correct the country's ISO code in BILLmanager",
                )
            }),
        }
    }

    /// The tariff of product type `itemtype` with internal name `intname`
    /// (service import: `ssl_<upstream tariff id>`).
    pub fn pricelist_by_intname(&mut self, itemtype: &str, intname: &str) -> Result<Option<u64>> {
        let row: Option<Row> = self
            .conn
            .exec_first(
                "SELECT p.id FROM pricelist p JOIN itemtype it ON it.id = p.itemtype \
                 WHERE it.intname = ? AND p.intname = ? ORDER BY p.id LIMIT 1",
                (itemtype, intname),
            )
            .map_err(|e| db_error("reading pricelist", e))?;
        match row {
            None => Ok(None),
            Some(r) => column::uint(r.as_ref(0)).map_err(|b| {
                unusable(
                    &format!("tariff '{}'", shorten(intname, 64)),
                    "pricelist.id",
                    &b.into(),
                    "check the tariff in BILLmanager",
                )
            }),
        }
    }

    /// The charged price (`item.cost`, module-protocol.md §9.3) of the
    /// certificate services of a processing module, grouped by tariff
    /// intname, period, raw `item.status` and cost. Each value as read: what
    /// it means is for the caller (`commands::price_watch::local_prices`).
    pub fn service_costs(&mut self, module_id: u64) -> Result<Vec<ServiceCost>> {
        let rows: Vec<Row> = self
            .conn
            .exec(
                "SELECT p.intname, i.period, i.status, i.cost, COUNT(*), MIN(i.id) FROM item i \
                 JOIN pricelist p ON p.id = i.pricelist JOIN itemtype it ON it.id = p.itemtype \
                 WHERE i.processingmodule = ? AND it.intname = 'certificate' \
                 GROUP BY p.intname, i.period, i.status, i.cost \
                 ORDER BY p.intname, i.period, i.status, i.cost",
                (module_id,),
            )
            .map_err(|e| db_error("reading service prices", e))?;
        Ok(rows
            .iter()
            .map(|r| ServiceCost {
                tariff: required(column::text(r.as_ref(0))),
                period: required(column::int(r.as_ref(1))).map(Period::from_db),
                status: required(column::int(r.as_ref(2))).and_then(|s| {
                    i32::try_from(s).map_err(|_| Problem::Bad(Bad::OutOfRange(s.to_string())))
                }),
                cost: column::decimal(r.as_ref(3)),
                services: column::count(r.as_ref(4)).unwrap_or(0),
                first_item: column::uint(r.as_ref(5)).ok().flatten(),
            })
            .collect())
    }

    /// What a local tariff holds that could name its upstream tariff besides
    /// its internal name: its name, and its external id when the schema has
    /// such a column. GUESS (P-U2, module-protocol.md §14.2: how BILLmanager's
    /// import wizard links a local tariff to the provider's is unconfirmed):
    /// the column `pricelist.externalid`, by analogy with
    /// `service_profile2processingmodule.externalid` (§9.3). A database
    /// without the column answers `None`, not an error. NULL is "none" for
    /// both; text that is not UTF-8 is an error (it would pick the tariff
    /// that is ordered and paid).
    pub fn pricelist_link(&mut self, pricelist: u64) -> Result<(String, Option<String>)> {
        let whose = format!("tariff {pricelist}");
        let fix = "correct the tariff in BILLmanager, then rerun";
        let row: Option<Row> = self
            .conn
            .exec_first("SELECT name FROM pricelist WHERE id = ?", (pricelist,))
            .map_err(|e| db_error("reading pricelist", e))?;
        let name = match row {
            None => None,
            Some(r) => column::text(r.as_ref(0))
                .map_err(|b| unusable(&whose, "pricelist.name", &b.into(), fix))?,
        };
        let external = match self.conn.exec_first::<Row, _, _>(
            "SELECT externalid FROM pricelist WHERE id = ?",
            (pricelist,),
        ) {
            Ok(None) => None,
            Ok(Some(r)) => column::text(r.as_ref(0))
                .map(non_empty)
                .map_err(|b| unusable(&whose, "pricelist.externalid", &b.into(), fix))?,
            // 1054: unknown column: this BILLmanager keeps no external id.
            Err(mysql::Error::MySqlError(e)) if e.code == 1054 => None,
            Err(e) => return Err(db_error("reading pricelist.externalid", e)),
        };
        Ok((name.unwrap_or_default(), external))
    }

    /// SAN slots the customer paid for: the sum of the service's add-on
    /// quantities whose item type is `altname…` (module-protocol.md §9.3,
    /// L-SSLSTORE `OrderedAltNamesCount`; wildcard SAN add-ons included).
    /// `None` when the service has no such add-on with a quantity (a tariff
    /// without SAN add-ons, e.g. made from a template) or the database keeps no
    /// `item.intvalue` (the quantity column, §9.3 PYLIB; its name is not
    /// confirmed for every version). An add-on without a quantity (NULL: an
    /// enumeration) is no evidence of "0 paid" and is not counted; a quantity
    /// that is negative or not a number is an error (summed by the database it
    /// once became a huge count that let unpaid names through).
    pub fn ordered_san_slots(&mut self, item_id: u64) -> Result<Option<u64>> {
        let q = "SELECT a.id, a.intvalue FROM item a \
                 JOIN pricelist p ON p.id = a.pricelist JOIN itemtype it ON it.id = p.itemtype \
                 WHERE a.parent = ? AND it.intname LIKE 'altname%'";
        let rows: Vec<Row> = match self.conn.exec(q, (item_id,)) {
            Ok(rows) => rows,
            Err(mysql::Error::MySqlError(e)) if e.code == 1054 => return Ok(None),
            Err(e) => return Err(db_error("reading the service's SAN add-ons", e)),
        };
        let mut paid: Option<u64> = None;
        for r in &rows {
            let addon = column::uint(r.as_ref(0))
                .ok()
                .flatten()
                .map_or_else(|| "an add-on".to_string(), |a| format!("add-on {a}"));
            let fix =
                "correct the quantity of the service's SAN add-on, then rerun; nothing was ordered";
            let n = match column::int(r.as_ref(1)) {
                Ok(None) => continue,
                Ok(Some(n)) => u64::try_from(n).map_err(|_| {
                    unusable(
                        &format!("item {item_id}, {addon}"),
                        "item.intvalue",
                        &Problem::Bad(Bad::OutOfRange(n.to_string())),
                        fix,
                    )
                })?,
                Err(b) => {
                    return Err(unusable(
                        &format!("item {item_id}, {addon}"),
                        "item.intvalue",
                        &b.into(),
                        fix,
                    ))
                }
            };
            paid = Some(paid.unwrap_or(0).saturating_add(n));
        }
        Ok(paid)
    }

    /// What the books record of an item beside the money: its customer
    /// account (`item.account`, `account.name`) and `item.cost`, the price
    /// of one period of the service (module-protocol.md §9.3 lists the
    /// columns; that `cost` is the price of the period is inferred, as in
    /// `commands::price_watch::local_prices`). Never an error for a value:
    /// a NULL, negative or unreadable one is `None` (the row is written
    /// without it); only a failed query is an error.
    pub fn item_books(&mut self, item_id: u64) -> Result<ItemBooks> {
        let row: Option<Row> = self
            .conn
            .exec_first(
                "SELECT i.account, a.name, i.cost FROM item i \
                 LEFT JOIN account a ON a.id = i.account WHERE i.id = ?",
                (item_id,),
            )
            .map_err(|e| db_error("reading the item's account and price", e))?;
        Ok(match row {
            None => ItemBooks::default(),
            Some(r) => ItemBooks {
                account: column::uint(r.as_ref(0)).ok().flatten(),
                account_name: column::text_for_display(r.as_ref(1)),
                sell: column::decimal(r.as_ref(2))
                    .ok()
                    .flatten()
                    .filter(|d| !d.is_sign_negative()),
            },
        })
    }

    /// Whether the local account (client) `id` exists.
    pub fn account_exists(&mut self, id: u64) -> Result<bool> {
        let row: Option<Row> = self
            .conn
            .exec_first("SELECT COUNT(*) FROM account WHERE id = ?", (id,))
            .map_err(|e| db_error("reading account", e))?;
        let n = match row {
            Some(r) => column::count(r.as_ref(0)).map_err(|b| db_error("counting accounts", b))?,
            None => 0,
        };
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_when_empty() {
        let s = DbSettings::from_paramlist(&params(&[("DBHost", ""), ("DBPassword", "")])).unwrap();
        assert_eq!(s.host, "localhost");
        assert_eq!(s.port, 3306);
        assert_eq!(s.user, "root");
        assert_eq!(s.name, "billmgr");
        assert!(s.password.is_empty());
        assert!(s.socket.is_none());
    }

    #[test]
    fn host_with_port_and_socket() {
        let s = DbSettings::from_paramlist(&params(&[
            ("DBHost", "10.0.0.5:3307"),
            ("DBSocket", "/x.sock"),
            ("DBPassword", "dbpass-123-zz"),
        ]))
        .unwrap();
        assert_eq!((s.host.as_str(), s.port), ("10.0.0.5", 3307));
        // Not localhost: TCP even when a socket is named.
        assert_eq!(s.socket_path().unwrap(), None);
        assert!(!format!("{s:?}").contains("dbpass-123-zz"));
        assert!(DbSettings::from_paramlist(&params(&[("DBHost", "h:x")])).is_err());
    }

    #[test]
    fn localhost_uses_named_socket() {
        let s = DbSettings::from_paramlist(&params(&[("DBSocket", "/some/where.sock")])).unwrap();
        assert_eq!(
            s.socket_path().unwrap().as_deref(),
            Some("/some/where.sock")
        );
    }

    #[test]
    fn certificate_debug_shows_sizes_only() {
        let c = CertificateRow {
            csr: Some("CSR-TEXT".into()),
            crt: None,
        };
        let d = format!("{c:?}");
        assert!(!d.contains("CSR-TEXT"), "{d}");
        assert!(d.contains("<8 bytes>"), "{d}");
    }
}
