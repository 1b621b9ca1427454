//! The demo's tariff step, the way the admin is told to do it:
//! Products → Tariff plans → Import. BILLmanager's wizard (played by
//! `crate::wizard`) asks the module for the plans it can import and for the
//! chosen plan's details, creates the local tariff from the answer; the admin
//! enables it; the customer orders it. Each module call is shown like every
//! other step (its upstream calls, its mgrctl callbacks) and checked.

use super::stop::say;
use super::{cut, Checks, Demo, Step, CN, UPSTREAM_TARIFF};
use crate::wizard;

impl Demo {
    pub(super) fn step_tariff_import(&mut self) -> Step<()> {
        self.heading(
            "3",
            "tariff import",
            "Products → Tariff plans → Import, enable, a customer orders (BILLmanager's wizard asks the module)",
        );
        let module = self.seed().module;
        let mut c = Checks::new();

        let args = wizard::list_args(module);
        let list = self.module(&strs(&args), None, "")?;
        self.expect_success(&list, None)?;
        let listed = wizard::pick(&list.stdout, UPSTREAM_TARIFF)?;
        let plans = list.stdout.matches("<elem>").count();
        say!(
            "  {:<9} {plans} plans to import, with their periods; the admin picks {UPSTREAM_TARIFF} ({listed})",
            "answer"
        );
        c.check(
            list.upstream_funcs() == ["pricelist.export"],
            "the list from one current pricelist.export",
            || format!("{:?}", list.upstream_funcs()),
        )?;

        let args = wizard::detail_args(module, UPSTREAM_TARIFF);
        let detail = self.module(&strs(&args), None, "")?;
        self.expect_success(&detail, None)?;
        let plan = wizard::plan_from_detail(&detail.stdout, UPSTREAM_TARIFF)?;
        let prices: Vec<String> = plan
            .prices
            .iter()
            .map(|p| format!("{} mo {} {}", p.months, p.cost, p.currency))
            .collect();
        say!(
            "  {:<9} tariff {UPSTREAM_TARIFF} in pricelist.export shape, internal name {}, sell prices: {}",
            "answer",
            plan.intname,
            cut(&prices.join(", "), 70)
        );
        c.check(
            plan.intname == format!("ssl_{UPSTREAM_TARIFF}"),
            format!("internal name ssl_{UPSTREAM_TARIFF}"),
            || plan.intname.clone(),
        )?;
        let reads_only = |funcs: Vec<String>| funcs.iter().all(|f| f == "paramlist");
        c.check(
            reads_only(list.mgrctl_funcs()) && reads_only(detail.mgrctl_funcs()),
            "no mgrctl write (paramlist only: the database settings)",
            || format!("{:?} {:?}", list.mgrctl_funcs(), detail.mgrctl_funcs()),
        )?;
        let captures = std::fs::read_dir(self.local().root.join("var/pmsslreseller"))
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        n.starts_with("import-") && n.ends_with(".xml")
                    })
                    .count()
            })
            .unwrap_or(0);
        c.check(
            captures == 2,
            "both calls kept in var/pmsslreseller/import-*.xml",
            || format!("{captures} files"),
        )?;

        let created = wizard::create(
            &mut self.local().conn,
            module,
            &plan,
            &wizard::Options::default(),
        )?;
        say!(
            "  {:<9} tariff {} '{}' ({}) created, disabled, {} prices, {} add-ons",
            "wizard",
            created.tariff,
            plan.name,
            plan.intname,
            plan.prices.len(),
            created.addons.len()
        );
        wizard::enable(&mut self.local().conn, created.tariff)?;
        say!("  {:<9} tariff {} enabled", "admin", created.tariff);
        let mut seed = self.seed();
        let item = wizard::order(
            &mut self.local().conn,
            &wizard::Order {
                tariff: created.tariff,
                account: Some(seed.account),
                period: 12,
                cn: CN.to_string(),
                sans: Vec::new(),
                csr: super::local::CSR.to_string(),
            },
        )?;
        say!(
            "  {:<9} certificate order: item {item} for {CN}, 12 months, CSR attached, not yet opened",
            "customer"
        );
        seed.tariff = created.tariff;
        seed.item = item;
        self.seed = Some(seed);
        self.passed(c);
        Ok(())
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
