//! The module log during local-billing work: every mgrctl call is logged at
//! debug, and neither the upstream password, nor the database password, nor
//! a crypted param value ever reaches it. A file of its own because the
//! logger is process-global.

mod support;

use mysql::prelude::Queryable;
use pmsslreseller::billing::{CryptKey, Db};
use support::billing::*;

const UPSTREAM_PASSWORD: &str = "Upstream-L0g-Secret";
const DB_PASSWORD: &str = "Db-L0g-Secret-77";
const CRYPTED_VALUE: &str = "Crypted-L0g-Value";

#[test]
fn secrets_never_reach_the_log() {
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    pmsslreseller::logging::init(&mgr.root(), "debug").expect("the module log opens");
    let module = db.seed_module("https://up.example.net", "reseller", UPSTREAM_PASSWORD);
    let tariff = db.seed_certificate_tariff("ssl_3033");
    let item =
        db.seed_certificate_item(module, tariff, 12, &certificate_params(), Some(EXAMPLE_CSR));

    let user = format!("pmss_l_{}", std::process::id());
    db.conn()
        .query_drop(format!("DROP USER IF EXISTS '{user}'@'127.0.0.1'"))
        .unwrap();
    db.conn()
        .query_drop(format!(
            "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'"
        ))
        .unwrap();
    db.conn()
        .query_drop(format!(
            "GRANT ALL ON `{}`.* TO '{user}'@'127.0.0.1'",
            db.name
        ))
        .unwrap();
    mgr.write_conf("127.0.0.1", &user, DB_PASSWORD, "", &[]);

    let m = mgr.mgrctl();
    let key = CryptKey::load(&mgr.root()).unwrap();
    let outcome = (|| {
        let mut conn = Db::connect(&m)?;
        let settings = conn.module_settings(module, &key)?;
        log::debug!("settings {settings:?}");
        // A crypted param, in PYLIB's form (`crypted=on`): masked in our log.
        let id = item.to_string();
        m.call(
            "service.saveparam",
            &[
                ("elid", id.as_str()),
                ("sok", "ok"),
                ("remote_secret", CRYPTED_VALUE),
                ("crypted", "on"),
            ],
        )?;
        m.setstatus(item, 3)?;
        let params = conn.item_params(item, &key)?;
        assert_eq!(
            params.get("remote_secret").map(String::as_str),
            Some(CRYPTED_VALUE)
        );
        // A failing call is logged as well, with the function's error.
        let err = m.postopen(99999).unwrap_err();
        log::error!("{err}");
        Ok::<_, pmsslreseller::protocol::error::ModuleError>(settings.password.expose().to_string())
    })();
    db.conn()
        .query_drop(format!("DROP USER IF EXISTS '{user}'@'127.0.0.1'"))
        .unwrap();
    assert_eq!(outcome.unwrap(), UPSTREAM_PASSWORD);
    log::logger().flush();

    let text = mgr.module_log();
    if std::env::var_os("PMSS_SHOW_LOG").is_some() {
        eprintln!("{text}");
    }
    assert!(text.contains("mgrctl paramlist"), "{text}");
    assert!(text.contains("mgrctl service.setstatus elid="), "{text}");
    assert!(text.contains("remote_secret=***"), "{text}");
    assert!(text.contains("item 99999 does not exist"), "{text}");
    for secret in [UPSTREAM_PASSWORD, DB_PASSWORD, CRYPTED_VALUE] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the log:\n{text}"
        );
        assert!(
            !mgr.journal_text().contains(secret),
            "{secret} leaked into the journal"
        );
    }
}
