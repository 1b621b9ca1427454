//! One test world, built the same way by every test file that needs one: the
//! `billmgr-sim upstream` simulator ([`SimUpstream`]), a real MariaDB
//! database ([`TestDb`]), a scratch MGR5_ROOT whose `sbin/mgrctl` is the
//! `billmgr-sim` stand-in ([`TestMgr`]), and a processing module of that
//! database pointing at the simulator with the reseller's account.
//!
//! A file's own knobs are [`WorldBuilder`] options (simulator options,
//! mgrctl core mode, `etc/pmsslreseller.toml`, debug logging, stand-in
//! config lines, tariffs and one certificate item to seed). Each file keeps
//! its own `World` type with its own helpers, built from the [`Base`] here.

use super::billing::{mysql_socket, TestDb, TestMgr, EXAMPLE_CSR};
use super::sim::SimUpstream;

/// What [`WorldBuilder::build`] made. `module`, `tariffs` and `item` are
/// there when the builder was asked for them ([`Base::module`] etc.).
pub struct Base {
    pub up: SimUpstream,
    pub db: TestDb,
    pub mgr: TestMgr,
    module: Option<u64>,
    tariffs: Vec<u64>,
    item: Option<u64>,
}

impl Base {
    /// The processing module seeded for the builder's account.
    pub fn module(&self) -> u64 {
        self.module
            .expect("no module: the world was built without WorldBuilder::account")
    }

    /// The local tariff of the first upstream tariff given to
    /// [`WorldBuilder::tariffs`].
    pub fn tariff(&self) -> u64 {
        *self
            .tariffs
            .first()
            .expect("no tariff: the world was built without WorldBuilder::tariffs")
    }

    /// The certificate item of [`WorldBuilder::item`].
    pub fn item(&self) -> u64 {
        self.item
            .expect("no item: the world was built without WorldBuilder::item")
    }
}

/// The options of one world; [`WorldBuilder::build`] makes it.
#[derive(Default)]
pub struct WorldBuilder {
    /// The simulator's reseller account (user, password, EUR balance) and the
    /// module seeded with its credentials.
    account: Option<(String, String, String)>,
    sim_args: Vec<String>,
    core: bool,
    mgrctl_conf: Vec<String>,
    config: Option<String>,
    debug_log: bool,
    tariffs: Vec<u64>,
    item: Option<(i32, Vec<(String, String)>)>,
}

impl WorldBuilder {
    /// A simulator with its built-in accounts, the stand-in in direct mode,
    /// no module: everything else is an option.
    pub fn new() -> WorldBuilder {
        WorldBuilder::default()
    }

    /// The simulator gets the account `user`/`password` holding `balance`
    /// EUR (`--account`, before any other option), and the database a
    /// processing module with these credentials ([`Base::module`]).
    pub fn account(mut self, user: &str, password: &str, balance: &str) -> WorldBuilder {
        self.account = Some((user.into(), password.into(), balance.into()));
        self
    }

    /// More `billmgr-sim upstream` options, as given (`--fault …`, …).
    pub fn sim_args(mut self, args: &[&str]) -> WorldBuilder {
        self.sim_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Simulator knobs `NAME=VALUE`, each as `--knob NAME=VALUE`.
    pub fn knobs(mut self, knobs: &[&str]) -> WorldBuilder {
        for k in knobs {
            self.sim_args.extend(["--knob".to_string(), k.to_string()]);
        }
        self
    }

    /// The simulator under `profile` (`--profile`, sim/README.md "Field
    /// shapes and profiles").
    pub fn profile(mut self, profile: &str) -> WorldBuilder {
        self.sim_args
            .extend(["--profile".to_string(), profile.to_string()]);
        self
    }

    /// The mgrctl stand-in in core mode ([`TestMgr::with_core`]) when `on`.
    pub fn core_mgrctl(mut self, on: bool) -> WorldBuilder {
        self.core = on;
        self
    }

    /// Lines appended to the stand-in's `etc/billmgr-sim.conf` (e.g. its
    /// `Fault …` script).
    pub fn mgrctl_conf(mut self, lines: &[&str]) -> WorldBuilder {
        self.mgrctl_conf.extend(lines.iter().map(|l| l.to_string()));
        self
    }

    /// `etc/pmsslreseller.toml` with this text.
    pub fn config(mut self, text: &str) -> WorldBuilder {
        self.config = Some(text.to_string());
        self
    }

    /// The module's most verbose logging (`etc/debug.conf`): what must stay
    /// out of the log must stay out of debug lines too.
    pub fn debug_log(mut self) -> WorldBuilder {
        self.debug_log = true;
        self
    }

    /// Local tariffs `ssl_<id>` for these upstream tariff ids, seeded in
    /// this order after the module.
    pub fn tariffs(mut self, upstream_ids: &[u64]) -> WorldBuilder {
        self.tariffs.extend_from_slice(upstream_ids);
        self
    }

    /// One certificate item of the module on the first tariff: `months`
    /// long, with item params `params` and the example CSR ([`Base::item`]).
    pub fn item(mut self, months: i32, params: &[(&str, &str)]) -> WorldBuilder {
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.item = Some((months, params));
        self
    }

    pub fn build(self) -> Base {
        let mut args: Vec<String> = Vec::new();
        if let Some((user, password, balance)) = &self.account {
            args.extend([
                "--account".into(),
                format!("{user}:{password}:{balance}:EUR"),
            ]);
        }
        args.extend(self.sim_args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let up = SimUpstream::start_with(&args);
        let db = TestDb::create();
        let mgr = if self.core {
            TestMgr::with_core(&db)
        } else {
            TestMgr::new(&db)
        };
        if !self.mgrctl_conf.is_empty() {
            let lines: Vec<&str> = self.mgrctl_conf.iter().map(String::as_str).collect();
            mgr.write_conf("localhost", "root", "", &mysql_socket(), &lines);
        }
        if let Some(text) = &self.config {
            std::fs::write(mgr.path().join("etc/pmsslreseller.toml"), text).unwrap();
        }
        if self.debug_log {
            std::fs::write(mgr.path().join("etc/debug.conf"), "pmsslreseller 9\n").unwrap();
        }
        let module = self
            .account
            .as_ref()
            .map(|(user, password, _)| db.seed_module(&up.url(), user, password));
        let tariffs: Vec<u64> = self
            .tariffs
            .iter()
            .map(|id| db.seed_certificate_tariff(&format!("ssl_{id}")))
            .collect();
        let item = self.item.map(|(months, params)| {
            let module = module.expect("WorldBuilder::item needs WorldBuilder::account");
            let tariff = *tariffs
                .first()
                .expect("WorldBuilder::item needs WorldBuilder::tariffs");
            let params: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            db.seed_certificate_item(module, tariff, months, &params, Some(EXAMPLE_CSR))
        });
        Base {
            up,
            db,
            mgr,
            module,
            tariffs,
            item,
        }
    }
}
