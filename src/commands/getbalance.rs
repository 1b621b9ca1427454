//! `--command getbalance [--module N]`: the upstream balance of our modules,
//! reported to BILLmanager with `processing.savebalance` (evidence-2026-12
//! "getbalance", DOC N2, 3P-CODE N4).
//!
//! BILLmanager's cron (`processing.checkbalance`, 06:00 and 18:00) runs it for
//! modules that advertise `getbalance`; the dashboard then shows the
//! "Reselling services balance" and BILLmanager sends its low-balance notice
//! below the module's minimal balance. Without `--module`: every active
//! pmsslreseller module. The balance is read with `whoami`, which moves no
//! money. `pmsslreseller balance` shows the same figures to an admin.

use crate::billing::{CryptKey, Db, Mgrctl, ModuleSettings};
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::error::{ModuleError, Result};
use crate::protocol::xml::Elem;
use crate::upstream::Account;
use crate::vocab::MODULE_NAME;

use super::module::{connect, our_module_settings};
use super::Ctx;

/// One module's balance, as the upstream showed it.
#[derive(Debug, Clone)]
pub struct ModuleBalance {
    pub module: u64,
    pub name: String,
    pub account: Account,
}

impl ModuleBalance {
    /// `module 3 (Upstream SSL): 1000.00 EUR, upstream account reseller`.
    pub fn line(&self) -> String {
        format!(
            "module {} ({}): {} {}, upstream account {}",
            self.module,
            self.name,
            self.account.balance,
            self.account
                .currency
                .as_deref()
                .unwrap_or("(currency not shown)"),
            self.account.name
        )
    }
}

/// The modules to ask: `module`, or every active pmsslreseller module.
pub fn modules(db: &mut Db, module: Option<u64>) -> Result<Vec<u64>> {
    match module {
        Some(m) => Ok(vec![m]),
        None => db.active_modules(MODULE_NAME),
    }
}

/// Ask the upstream of one module (must be ours) for its balance, and keep
/// it as a reading in the books (`commands::charges`: the upstream's real
/// charges are judged against the ledger between two readings).
pub fn read_balance(
    root: &MgrRoot,
    mgrctl: &Mgrctl,
    db: &mut Db,
    key: &CryptKey,
    config: &Config,
    module: u64,
) -> Result<ModuleBalance> {
    let settings: ModuleSettings = our_module_settings(db, key, module)?;
    let client = connect(&settings, config)?;
    let account = client.whoami()?;
    super::charges::observe(
        root,
        config,
        mgrctl,
        &super::charges::BalanceRead {
            module: super::credential_health::ModuleRef {
                id: module,
                name: settings.name.clone(),
            },
            client: &client,
            username: &settings.username,
            account: &account,
            source: crate::books::readings::Source::Getbalance,
        },
    );
    Ok(ModuleBalance {
        module,
        name: settings.name,
        account,
    })
}

/// Each module asked, with its balance or its error.
pub type Balances = Vec<(u64, Result<ModuleBalance>)>;

/// Every balance asked for, each `Ok` or the error of that module.
pub fn read_balances(
    root: &MgrRoot,
    config: &Config,
    module: Option<u64>,
) -> Result<(Mgrctl, Balances)> {
    let mgrctl = Mgrctl::configured(root, config);
    let mut db = Db::connect(&mgrctl)?;
    let key = CryptKey::load(root)?;
    let ids = modules(&mut db, module)?;
    let results = ids
        .into_iter()
        .map(|id| (id, read_balance(root, &mgrctl, &mut db, &key, config, id)))
        .collect();
    Ok((mgrctl, results))
}

pub fn run(ctx: &Ctx, module: Option<u64>) -> Result<Option<String>> {
    let (mgrctl, results) = read_balances(&ctx.root, &ctx.config, module)?;
    if results.is_empty() {
        log::info!("getbalance: no active {MODULE_NAME} module; nothing to report");
    }
    let mut failed: Vec<(u64, ModuleError)> = Vec::new();
    for (id, result) in results {
        let reported = result.and_then(|b| {
            mgrctl.savebalance(id, b.account.balance, b.account.currency.as_deref())?;
            log::info!("getbalance: {}", b.line());
            Ok(())
        });
        if let Err(mut e) = reported {
            if !e.message.contains(&format!("processing module {id}")) {
                e.message = format!("processing module {id}: {}", e.message);
            }
            log::error!("getbalance: {e}");
            failed.push((id, e));
        }
    }
    match failed.len() {
        0 => Ok(Some(Elem::doc().to_document())),
        // One module: its own error, kind and all.
        1 => Err(failed.remove(0).1),
        _ => {
            let first = failed[0].1.clone();
            let ids: Vec<String> = failed.iter().map(|(id, _)| id.to_string()).collect();
            Err(ModuleError::new(
                first.kind,
                format!(
                    "the balance of processing modules {} could not be reported; the first error: {}",
                    ids.join(", "),
                    first.message
                ),
            )
            .with_object(format!("processing module {}", failed[0].0)))
        }
    }
}
