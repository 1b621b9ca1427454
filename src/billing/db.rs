//! `Db`: every read from BILLmanager's MySQL database (module-protocol.md §9).
//!
//! ISPsystem's own modules read the database directly and write only through
//! mgrctl; we do the same: this file only SELECTs. Credentials come from
//! `mgrctl paramlist` (§9.1); `localhost` means the unix socket. Each query is
//! a method named after what it reads. Dates are read as text and parsed
//! here, so BILLmanager's zero dates (`0000-00-00`) become `None` instead of
//! an error.

pub mod column;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};

use super::crypt::CryptKey;
use super::mgrctl::Mgrctl;
use super::status::ItemStatus;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::protocol::settings;
use crate::secret::{redact, Secret};

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
                        format!("BILLmanager's DBHost '{host_raw}' has a bad port"),
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

/// One service (`item` ⋈ `pricelist` ⋈ `itemtype` ⋈ `processingmodule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub id: u64,
    /// `item.remoteid`; empty counts as none.
    pub remoteid: Option<String>,
    pub processingmodule: Option<u64>,
    /// `processingmodule.module` of that module, e.g. `pmsslreseller`.
    pub module: Option<String>,
    pub pricelist: u64,
    /// `item.lastpricelist`: set while a change of tariff is pending (the
    /// tariff before it, module-protocol.md §6.3 `setparam`).
    pub lastpricelist: Option<u64>,
    pub pricelist_intname: String,
    pub itemtype_intname: String,
    /// Months.
    pub period: i32,
    /// Raw `item.status`; see [`ItemRow::item_status`].
    pub status: i32,
    pub expiredate: Option<NaiveDate>,
    pub opendate: Option<NaiveDate>,
    pub account: u64,
    pub name: String,
}

impl ItemRow {
    pub fn item_status(&self) -> ItemStatus {
        ItemStatus::from_db(self.status)
    }
}

/// `certificate` row of an item; empty columns are `None`. `Debug` shows
/// sizes only: `pkey` is a private key.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateRow {
    pub csr: Option<String>,
    pub pkey: Option<String>,
    pub crt: Option<String>,
}

impl std::fmt::Debug for CertificateRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = |v: &Option<String>| v.as_ref().map(|s| format!("<{} bytes>", s.len()));
        f.debug_struct("CertificateRow")
            .field("csr", &size(&self.csr))
            .field("pkey", &self.pkey.as_ref().map(|_| "***"))
            .field("crt", &size(&self.crt))
            .finish()
    }
}

/// One group of [`Db::service_costs`]: tariff intname, period (months), raw
/// `item.status`, `item.cost` as text, number of services.
pub type ServiceCost = (String, i32, i32, String, u64);

/// `runningoperation` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningOperation {
    pub id: u64,
    pub item: Option<u64>,
    pub trycount: u32,
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

fn db_error(what: &str, e: impl std::fmt::Display) -> ModuleError {
    ModuleError::new(
        ErrorKind::Billing,
        format!("BILLmanager's database: {what}: {}", redact(&e.to_string())),
    )
    .with_object("database")
}

/// A failed connection in plain words: what is wrong and what to check,
/// instead of the driver's `MySqlError { ERROR 1049 … }` dump. The database
/// name, user and password come from BILLmanager (`mgrctl paramlist`,
/// module-protocol.md §9.1), so that is where the admin looks.
fn connect_error(s: &DbSettings, via: &str, e: &mysql::Error) -> ModuleError {
    let (name, user) = (&s.name, &s.user);
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
    ModuleError::new(ErrorKind::Billing, redact(&text)).with_object("database")
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn parse_date(v: Option<String>) -> Option<NaiveDate> {
    v.and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
}

const ITEM_SELECT: &str = "SELECT i.id, i.remoteid, i.processingmodule, pm.module, i.pricelist, \
     p.intname, it.intname, i.period, i.status, \
     CAST(i.expiredate AS CHAR), CAST(i.opendate AS CHAR), i.account, i.name, i.lastpricelist \
     FROM item i JOIN pricelist p ON p.id = i.pricelist \
     JOIN itemtype it ON it.id = p.itemtype \
     LEFT JOIN processingmodule pm ON pm.id = i.processingmodule";

/// Column `i` of a row, converted; a NULL where a value is required, or a
/// value of the wrong type, is an error naming the column.
fn col<T: mysql::prelude::FromValue>(row: &mysql::Row, i: usize, what: &str) -> Result<T> {
    match row.get_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(db_error(&format!("unexpected value in {what}"), e)),
        None => Err(db_error(
            &format!("column {what} missing"),
            "no such column",
        )),
    }
}

fn item_from(row: &mysql::Row) -> Result<ItemRow> {
    Ok(ItemRow {
        id: col(row, 0, "item.id")?,
        remoteid: non_empty(col(row, 1, "item.remoteid")?),
        processingmodule: col(row, 2, "item.processingmodule")?,
        module: col(row, 3, "processingmodule.module")?,
        pricelist: col(row, 4, "item.pricelist")?,
        pricelist_intname: col(row, 5, "pricelist.intname")?,
        itemtype_intname: col(row, 6, "itemtype.intname")?,
        period: col(row, 7, "item.period")?,
        status: col(row, 8, "item.status")?,
        expiredate: parse_date(col(row, 9, "item.expiredate")?),
        opendate: parse_date(col(row, 10, "item.opendate")?),
        account: col(row, 11, "item.account")?,
        name: col::<Option<String>>(row, 12, "item.name")?.unwrap_or_default(),
        // 0 is how an unset tariff reference may be stored, as NULL is.
        lastpricelist: col::<Option<u64>>(row, 13, "item.lastpricelist")?.filter(|p| *p != 0),
    })
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
    /// depends on the type).
    pub fn processing_module(&mut self, module_id: u64) -> Result<(String, String)> {
        let row: Option<(String, String)> = self
            .conn
            .exec_first(
                "SELECT module, name FROM processingmodule WHERE id = ?",
                (module_id,),
            )
            .map_err(|e| db_error("reading processingmodule", e))?;
        row.ok_or_else(|| {
            ModuleError::new(
                ErrorKind::Billing,
                format!("processing module {module_id} does not exist in BILLmanager"),
            )
            .with_object("processingmodule")
        })
    }

    /// Ids of the active processing modules of type `module` (`active = 'on'`).
    pub fn active_modules(&mut self, module: &str) -> Result<Vec<u64>> {
        self.conn
            .exec(
                "SELECT id FROM processingmodule WHERE module = ? AND active = 'on' ORDER BY id",
                (module,),
            )
            .map_err(|e| db_error("reading processingmodule", e))
    }

    /// Module settings with the password decrypted into a `Secret`. Whether
    /// the module is ours is the caller's check
    /// (`commands::module::our_module_settings`, the one wording).
    pub fn module_settings(&mut self, module_id: u64, key: &CryptKey) -> Result<ModuleSettings> {
        let (module, name) = self.processing_module(module_id)?;
        let plain: Vec<(String, String)> = self
            .conn
            .exec(
                "SELECT intname, value FROM processingparam WHERE processingmodule = ?",
                (module_id,),
            )
            .map_err(|e| db_error("reading processingparam", e))?;
        let crypted: Vec<(String, String)> = self
            .conn
            .exec(
                "SELECT intname, value FROM processingcryptedparam WHERE processingmodule = ?",
                (module_id,),
            )
            .map_err(|e| db_error("reading processingcryptedparam", e))?;
        let mut values: BTreeMap<String, String> = plain.into_iter().collect();
        let mut password = Secret::new("");
        for (name, value) in crypted {
            // Decrypt only the crypted settings we know: each RSA decryption
            // costs time, and an unknown one is of no use.
            let known = settings::MODULE_PARAMS
                .iter()
                .any(|p| p.crypted && p.name == name);
            if !known {
                continue;
            }
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

    /// One item with its tariff, product type and module.
    pub fn item(&mut self, item_id: u64) -> Result<ItemRow> {
        let q = format!("{ITEM_SELECT} WHERE i.id = ?");
        let row: Option<mysql::Row> = self
            .conn
            .exec_first(q, (item_id,))
            .map_err(|e| db_error("reading item", e))?;
        match row {
            Some(r) => item_from(&r),
            None => Err(ModuleError::new(
                ErrorKind::Billing,
                format!(
                    "item {item_id} does not exist in BILLmanager's database (or its tariff \
                     or product type is missing)"
                ),
            )
            .with_object("item")),
        }
    }

    /// Every item of a processing module, by id.
    pub fn module_items(&mut self, module_id: u64) -> Result<Vec<ItemRow>> {
        let q = format!("{ITEM_SELECT} WHERE i.processingmodule = ? ORDER BY i.id");
        let rows: Vec<mysql::Row> = self
            .conn
            .exec(q, (module_id,))
            .map_err(|e| db_error("reading items of the module", e))?;
        rows.iter().map(item_from).collect()
    }

    /// For the bulk sync's "does it need a look" decision, in two queries for
    /// the whole module instead of two per item: the params `names` of every
    /// item of `module`, from `itemparam`. Items that keep one of these
    /// names in `itemcryptedparam` (which wins, as in [`Db::item_params`])
    /// get their params read in full and decrypted.
    pub fn module_item_params(
        &mut self,
        module_id: u64,
        names: &[&str],
        key: &CryptKey,
    ) -> Result<BTreeMap<u64, BTreeMap<String, String>>> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let marks = vec!["?"; names.len()].join(", ");
        let mut args: Vec<mysql::Value> = vec![module_id.into()];
        args.extend(names.iter().map(|n| mysql::Value::from(*n)));
        let plain: Vec<(u64, String, String)> = self
            .conn
            .exec(
                format!(
                    "SELECT p.item, p.intname, p.value FROM itemparam p JOIN item i ON i.id = p.item \
                     WHERE i.processingmodule = ? AND p.intname IN ({marks})"
                ),
                args.clone(),
            )
            .map_err(|e| db_error("reading itemparam of the module", e))?;
        let crypted: Vec<u64> = self
            .conn
            .exec(
                format!(
                    "SELECT DISTINCT p.item FROM itemcryptedparam p JOIN item i ON i.id = p.item \
                     WHERE i.processingmodule = ? AND p.intname IN ({marks})"
                ),
                args,
            )
            .map_err(|e| db_error("reading itemcryptedparam of the module", e))?;
        let mut out: BTreeMap<u64, BTreeMap<String, String>> = BTreeMap::new();
        for (item, name, value) in plain {
            out.entry(item).or_default().insert(name, value);
        }
        for item in crypted {
            let mut all = self.item_params(item, key)?;
            all.retain(|k, _| names.contains(&k.as_str()));
            out.insert(item, all);
        }
        Ok(out)
    }

    /// `itemparam` ∪ decrypted `itemcryptedparam` (a crypted one wins).
    pub fn item_params(
        &mut self,
        item_id: u64,
        key: &CryptKey,
    ) -> Result<BTreeMap<String, String>> {
        let plain: Vec<(String, String)> = self
            .conn
            .exec(
                "SELECT intname, value FROM itemparam WHERE item = ?",
                (item_id,),
            )
            .map_err(|e| db_error("reading itemparam", e))?;
        let crypted: Vec<(String, String)> = self
            .conn
            .exec(
                "SELECT intname, value FROM itemcryptedparam WHERE item = ?",
                (item_id,),
            )
            .map_err(|e| db_error("reading itemcryptedparam", e))?;
        let mut out: BTreeMap<String, String> = plain.into_iter().collect();
        for (name, value) in crypted {
            let clear = key.decrypt(&value).map_err(|e| {
                ModuleError::new(
                    ErrorKind::Billing,
                    format!(
                        "item {item_id}: cannot decrypt item param '{name}': {}",
                        e.message
                    ),
                )
                .with_object(name.clone())
            })?;
            out.insert(name, clear);
        }
        Ok(out)
    }

    /// The item's `certificate` row (CSR, private key, issued certificate).
    pub fn certificate(&mut self, item_id: u64) -> Result<Option<CertificateRow>> {
        let row: Option<(Option<String>, Option<String>, Option<String>)> = self
            .conn
            .exec_first(
                "SELECT csr, pkey, crt FROM certificate WHERE item = ?",
                (item_id,),
            )
            .map_err(|e| db_error("reading certificate", e))?;
        Ok(row.map(|(csr, pkey, crt)| CertificateRow {
            csr: non_empty(csr),
            pkey: non_empty(pkey),
            crt: non_empty(crt),
        }))
    }

    /// Only columns of BILLmanager's documented `runningoperation` API (D-RO:
    /// id, item, trycount, …). Where BILLmanager keeps the "manual" flag is
    /// unknown (§10.8), so it is not read: "already handled" is decided by
    /// an open task, as ISPsystem's base class does (§11.3).
    pub fn running_operation(&mut self, id: u64) -> Result<Option<RunningOperation>> {
        let row: Option<(u64, Option<u64>, u32)> = self
            .conn
            .exec_first(
                "SELECT id, item, trycount FROM runningoperation WHERE id = ?",
                (id,),
            )
            .map_err(|e| db_error("reading runningoperation", e))?;
        Ok(row.map(|(id, item, trycount)| RunningOperation { id, item, trycount }))
    }

    /// Whether an admin task (open or in work) exists for the operation.
    pub fn has_open_task(&mut self, ro: u64) -> Result<bool> {
        let q =
            format!("SELECT COUNT(*) FROM task WHERE runningoperation = ? AND {TASK_NOT_CLOSED}");
        let n: Option<u64> = self
            .conn
            .exec_first(q, (ro,))
            .map_err(|e| db_error("reading task", e))?;
        Ok(n.unwrap_or(0) > 0)
    }

    /// One plain item param as stored now (`itemparam`), for reading back a
    /// write made through `mgrctl` before money moves.
    pub fn item_param(&mut self, item_id: u64, name: &str) -> Result<Option<String>> {
        self.conn
            .exec_first(
                "SELECT value FROM itemparam WHERE item = ? AND intname = ?",
                (item_id, name),
            )
            .map_err(|e| db_error("reading itemparam", e))
    }

    /// `country.iso2` of BILLmanager's numeric country id (OP-SSL stores
    /// `org_country` as that id).
    pub fn country_iso2(&mut self, country_id: u64) -> Result<Option<String>> {
        let v: Option<String> = self
            .conn
            .exec_first("SELECT iso2 FROM country WHERE id = ?", (country_id,))
            .map_err(|e| db_error("reading country", e))?;
        Ok(non_empty(v))
    }

    /// The tariff of product type `itemtype` with internal name `intname`
    /// (service import: `ssl_<upstream tariff id>`).
    pub fn pricelist_by_intname(&mut self, itemtype: &str, intname: &str) -> Result<Option<u64>> {
        self.conn
            .exec_first(
                "SELECT p.id FROM pricelist p JOIN itemtype it ON it.id = p.itemtype \
                 WHERE it.intname = ? AND p.intname = ? ORDER BY p.id LIMIT 1",
                (itemtype, intname),
            )
            .map_err(|e| db_error("reading pricelist", e))
    }

    /// The charged price (`item.cost`, module-protocol.md §9.3) of the
    /// certificate services of a processing module, grouped: (tariff
    /// intname, period in months, raw `item.status`, `item.cost` as text,
    /// number of services). What the price means is for the caller
    /// (`commands::price_watch::local_prices`).
    pub fn service_costs(&mut self, module_id: u64) -> Result<Vec<ServiceCost>> {
        self.conn
            .exec(
                "SELECT p.intname, i.period, i.status, CAST(i.cost AS CHAR), COUNT(*) FROM item i \
                 JOIN pricelist p ON p.id = i.pricelist JOIN itemtype it ON it.id = p.itemtype \
                 WHERE i.processingmodule = ? AND it.intname = 'certificate' \
                 GROUP BY p.intname, i.period, i.status, i.cost \
                 ORDER BY p.intname, i.period, i.status, i.cost",
                (module_id,),
            )
            .map_err(|e| db_error("reading service prices", e))
    }

    /// What a local tariff holds that could name its upstream tariff besides
    /// its internal name: its name, and its external id when the schema has
    /// such a column. GUESS (P-U2, module-protocol.md §14.2: how BILLmanager's
    /// import wizard links a local tariff to the provider's is unconfirmed):
    /// the column `pricelist.externalid`, by analogy with
    /// `service_profile2processingmodule.externalid` (§9.3). A database
    /// without the column answers `None`, not an error.
    pub fn pricelist_link(&mut self, pricelist: u64) -> Result<(String, Option<String>)> {
        let name: Option<String> = self
            .conn
            .exec_first("SELECT name FROM pricelist WHERE id = ?", (pricelist,))
            .map_err(|e| db_error("reading pricelist", e))?;
        let external = match self.conn.exec_first::<Option<String>, _, _>(
            "SELECT CAST(externalid AS CHAR) FROM pricelist WHERE id = ?",
            (pricelist,),
        ) {
            Ok(v) => non_empty(v.flatten()),
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
    /// confirmed for every version).
    pub fn ordered_san_slots(&mut self, item_id: u64) -> Result<Option<u64>> {
        // COUNT(a.intvalue) counts only add-ons that hold a quantity: an
        // add-on of another kind (an enumeration) is no evidence of "0 paid".
        let q =
            "SELECT COUNT(a.intvalue), CAST(COALESCE(SUM(a.intvalue), 0) AS UNSIGNED) FROM item a \
                 JOIN pricelist p ON p.id = a.pricelist JOIN itemtype it ON it.id = p.itemtype \
                 WHERE a.parent = ? AND it.intname LIKE 'altname%'";
        match self.conn.exec_first::<(u64, u64), _, _>(q, (item_id,)) {
            Ok(Some((n, sum))) if n > 0 => Ok(Some(sum)),
            Ok(_) => Ok(None),
            Err(mysql::Error::MySqlError(e)) if e.code == 1054 => Ok(None),
            Err(e) => Err(db_error("reading the service's SAN add-ons", e)),
        }
    }

    /// Whether the local account (client) `id` exists.
    pub fn account_exists(&mut self, id: u64) -> Result<bool> {
        let n: Option<u64> = self
            .conn
            .exec_first("SELECT COUNT(*) FROM account WHERE id = ?", (id,))
            .map_err(|e| db_error("reading account", e))?;
        Ok(n.unwrap_or(0) > 0)
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
    fn zero_dates_are_none() {
        assert_eq!(parse_date(Some("0000-00-00".into())), None);
        assert_eq!(
            parse_date(Some("2027-01-31".into())),
            NaiveDate::from_ymd_opt(2027, 1, 31)
        );
    }

    #[test]
    fn certificate_debug_hides_pkey() {
        let c = CertificateRow {
            csr: Some("CSR".into()),
            pkey: Some("PRIVATE-KEY-TEXT".into()),
            crt: None,
        };
        let d = format!("{c:?}");
        assert!(!d.contains("PRIVATE-KEY-TEXT"), "{d}");
    }
}
