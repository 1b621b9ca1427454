//! Local BILLmanager access against the real MariaDB and the billmgr-sim
//! mgrctl stand-in: every callback applied and visible in the database,
//! values passed intact, bad calls rejected loudly, DB reads (settings with a
//! crypted password, item, params, certificate) and CertificateOrderData.

mod support;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pmsslreseller::billing::{ApproverMethod, CertificateOrderData, CryptKey, Db};
use pmsslreseller::protocol::error::{ErrorKind, ModuleError};
use pmsslreseller::vocab::{ItemStatus, Period, ServiceStatus};
use support::billing::*;

struct Fixture {
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    item: u64,
}

const PASSWORD: &str = "Up-Str3am pass=äö";

fn fixture() -> Fixture {
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let module = db.seed_module("https://upstream.example.net/billmgr", "reseller", PASSWORD);
    let tariff = db.seed_certificate_tariff("ssl_3033");
    let item =
        db.seed_certificate_item(module, tariff, 12, &certificate_params(), Some(EXAMPLE_CSR));
    Fixture {
        db,
        mgr,
        module,
        item,
    }
}

fn key(f: &Fixture) -> CryptKey {
    CryptKey::load(&f.mgr.root()).unwrap()
}

#[test]
fn paramlist_answers_db_settings_and_db_connects_over_the_socket() {
    let f = fixture();
    let p = f.mgr.mgrctl().paramlist().unwrap();
    assert_eq!(p.get("DBName"), Some(&f.db.name));
    assert_eq!(p.get("DBHost").map(String::as_str), Some("localhost"));
    assert_eq!(p.get("DBUser").map(String::as_str), Some("root"));
    assert!(p.contains_key("DBPassword"));
    let mut db = Db::connect(&f.mgr.mgrctl()).unwrap();
    assert_eq!(db.item(f.item).unwrap().id, f.item);
}

#[test]
fn db_connect_probes_socket_when_dbsocket_is_empty() {
    let f = fixture();
    // Empty host, user, password and socket: defaults localhost/root, and the
    // socket is probed. (DBName stays: its default `billmgr` is not ours.)
    let conf = f.mgr.path().join("etc/billmgr-sim.conf");
    std::fs::write(
        &conf,
        format!(
            "DBHost\nDBUser\nDBPassword\nDBName {}\nDBSocket\n",
            f.db.name
        ),
    )
    .unwrap();
    let p = f.mgr.mgrctl().paramlist().unwrap();
    assert_eq!(p.get("DBHost").map(String::as_str), Some(""));
    assert_eq!(p.get("DBSocket").map(String::as_str), Some(""));
    let mut db = Db::connect(&f.mgr.mgrctl()).unwrap();
    assert_eq!(db.item(f.item).unwrap().pricelist_intname, "ssl_3033");
}

#[test]
fn db_connect_over_tcp_with_a_password() {
    let f = fixture();
    let user = format!("pmss_u_{}", std::process::id());
    let password = "db-Pa55 word=x";
    {
        let mut c = f.db.conn();
        use mysql::prelude::Queryable;
        c.query_drop(format!("DROP USER IF EXISTS '{user}'@'127.0.0.1'"))
            .unwrap();
        c.query_drop(format!(
            "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'"
        ))
        .unwrap();
        c.query_drop(format!(
            "GRANT SELECT ON `{}`.* TO '{user}'@'127.0.0.1'",
            f.db.name
        ))
        .unwrap();
    }
    f.mgr.write_conf("127.0.0.1", &user, password, "", &[]);
    let result = Db::connect(&f.mgr.mgrctl()).map(|mut db| db.item(f.item).map(|i| i.id));
    // A wrong password fails with a billing error that does not show it.
    f.mgr
        .write_conf("127.0.0.1", &user, "wrong-pass-zz", "", &[]);
    let wrong = Db::connect(&f.mgr.mgrctl()).unwrap_err();
    {
        use mysql::prelude::Queryable;
        f.db.conn()
            .query_drop(format!("DROP USER IF EXISTS '{user}'@'127.0.0.1'"))
            .unwrap();
    }
    assert_eq!(result.unwrap().unwrap(), f.item);
    assert_eq!(wrong.kind, ErrorKind::Billing);
    assert!(
        wrong.message.contains("127.0.0.1:3306"),
        "{}",
        wrong.message
    );
    assert!(!wrong.to_string().contains("wrong-pass-zz"), "{wrong}");
}

#[test]
fn module_settings_decrypt_the_password_and_never_show_it() {
    let f = fixture();
    f.db.set_module_param(f.module, "mirror_suspend", "on");
    let mut db = Db::connect(&f.mgr.mgrctl()).unwrap();
    let s = db.module_settings(f.module, &key(&f)).unwrap();
    assert_eq!(s.id, f.module);
    assert_eq!(s.module, "pmsslreseller");
    assert_eq!(s.url, "https://upstream.example.net/billmgr");
    assert_eq!(s.username, "reseller");
    assert_eq!(s.password.expose(), PASSWORD);
    assert!(s.mirror_suspend);
    assert!(!format!("{s:?}").contains(PASSWORD));
    assert!(!f.mgr.journal_text().contains(PASSWORD));
}

#[test]
fn module_settings_errors() {
    let f = fixture();
    let mut db = Db::connect(&f.mgr.mgrctl()).unwrap();
    let e = db.module_settings(9999, &key(&f)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Billing);
    assert!(e.message.contains("9999"), "{}", e.message);
    // A module without url: a config error naming the setting.
    let bare = f.db.seed_module("", "u", "bare-module-pass");
    let e = db.module_settings(bare, &key(&f)).unwrap_err();
    assert_eq!(
        (e.kind, e.object.as_deref()),
        (ErrorKind::Config, Some("url"))
    );
    // A password encrypted with another key: config error, re-enter it.
    let other = CryptKey::from_pem(&generate_other_key()).unwrap();
    {
        use mysql::prelude::Queryable;
        f.db.conn()
            .exec_drop(
                "UPDATE processingcryptedparam SET value = ? WHERE processingmodule = ?",
                (other.encrypt("zzz").unwrap(), f.module),
            )
            .unwrap();
    }
    let e = db.module_settings(f.module, &key(&f)).unwrap_err();
    assert_eq!(
        (e.kind, e.object.as_deref()),
        (ErrorKind::Config, Some("password"))
    );
}

fn generate_other_key() -> String {
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "1024"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn item_params_and_certificate_rows_are_read() {
    let f = fixture();
    f.db.seed_crypted_item_param(f.item, "order_token", "tok en=1");
    let mut db = Db::connect(&f.mgr.mgrctl()).unwrap();
    let item = db.item(f.item).unwrap();
    assert_eq!(item.processingmodule, Some(f.module));
    assert_eq!(item.module.as_deref(), Some("pmsslreseller"));
    assert_eq!(item.pricelist_intname, "ssl_3033");
    assert_eq!(item.itemtype_intname, "certificate");
    assert_eq!(item.period, Period::Months(12));
    assert_eq!(item.item_status(), ItemStatus::Ordered);
    assert_eq!(item.name, "example.com");
    assert_eq!((item.expiredate, item.opendate), (None, None));
    let params = db.item_params(f.item, &key(&f)).unwrap();
    assert_eq!(
        params.get("org_name").map(String::as_str),
        Some("ООО «Пример»")
    );
    assert_eq!(
        params.get("order_token").map(String::as_str),
        Some("tok en=1")
    );
    let cert = db.certificate(f.item).unwrap().unwrap();
    assert_eq!(cert.csr.as_deref(), Some(EXAMPLE_CSR));
    assert_eq!(cert.crt, None);
    assert_eq!(db.certificate(9999).unwrap(), None);
    let items = db.module_items(f.module).unwrap();
    assert_eq!(
        items.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![f.item]
    );
    assert!(items.skipped.is_empty());
    let e = db.item(9999).unwrap_err();
    assert_eq!(
        (e.kind, e.object.as_deref()),
        (ErrorKind::Billing, Some("item"))
    );
}

#[test]
fn module_item_params_reads_the_named_params_of_every_item_at_once() {
    let f = fixture();
    let tariff = f.db.seed_certificate_tariff("ssl_3034");
    let second = f.db.seed_certificate_item(
        f.module,
        tariff,
        12,
        &[("pmss_upstream_id", "77"), ("service_status", "4")],
        None,
    );
    // Another module's item is not included.
    let other_module =
        f.db.seed_module("https://other.example.net/billmgr", "o", "other-pass");
    let foreign = f.db.seed_certificate_item(
        other_module,
        tariff,
        12,
        &[("pmss_upstream_id", "99")],
        None,
    );
    // A crypted param of a wanted name wins over the plain one, as in item_params.
    f.db.seed_crypted_item_param(f.item, "pmss_upstream_id", "42");
    let mut db = Db::connect(&f.mgr.mgrctl()).unwrap();
    let all = db
        .module_item_params(f.module, &["pmss_upstream_id", "service_status"], &key(&f))
        .unwrap();
    assert!(!all.by_item.contains_key(&foreign));
    assert!(all.unreadable.is_empty());
    assert_eq!(
        all.by_item[&second],
        BTreeMap::from([
            ("pmss_upstream_id".to_string(), "77".to_string()),
            ("service_status".to_string(), "4".to_string()),
        ])
    );
    // Only the wanted names, decrypted.
    assert_eq!(
        all.by_item[&f.item],
        BTreeMap::from([("pmss_upstream_id".to_string(), "42".to_string())])
    );
    assert!(db
        .module_item_params(f.module, &[], &key(&f))
        .unwrap()
        .by_item
        .is_empty());
}

#[test]
fn certificate_order_data_for_a_full_item() {
    let f = fixture();
    let ru = f.db.seed_country("RU", "Россия");
    {
        use mysql::prelude::Queryable;
        f.db.conn()
            .exec_drop(
                "INSERT INTO itemparam (item, intname, value) VALUES (?, 'org_country', ?)",
                (f.item, ru.to_string()),
            )
            .unwrap();
    }
    let mut db = Db::connect(&f.mgr.mgrctl()).unwrap();
    let d = CertificateOrderData::load(&mut db, &key(&f), f.item).unwrap();
    assert_eq!(d.cn, "example.com");
    assert_eq!(d.altnames, ["www.example.com", "mail.example.com"]);
    assert_eq!(
        d.approver_emails,
        ["admin@example.com", "admin@mail.example.com"]
    );
    assert_eq!(d.approver_method, Some(ApproverMethod::Email));
    assert_eq!(d.csr, EXAMPLE_CSR);
    assert_eq!(d.item.pricelist_intname, "ssl_3033");
    let contact = |k: &str| {
        d.contacts
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(contact("org_name"), Some("ООО «Пример»"));
    assert_eq!(contact("adm_fname"), Some("Иван"));
    assert_eq!(contact("tech_email"), Some("tech@example.com"));
    assert_eq!(contact("org_country"), Some("RU"));
    assert!(d
        .contacts
        .iter()
        .all(|(k, _)| k.starts_with("adm_") || k.starts_with("tech_") || k.starts_with("org_")));
}

#[test]
fn certificate_order_data_errors_name_the_item() {
    let f = fixture();
    let tariff = f.db.seed_certificate_tariff("ssl_1011");
    let no_csr =
        f.db.seed_certificate_item(f.module, tariff, 12, &[("CN", "a.example")], None);
    let no_cn = f.db.seed_certificate_item(
        f.module,
        tariff,
        12,
        &[],
        Some("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
    );
    let cn_from_csr =
        f.db.seed_certificate_item(f.module, tariff, 24, &[], Some(EXAMPLE_CSR));
    let mut db = Db::connect(&f.mgr.mgrctl()).unwrap();
    let e = CertificateOrderData::load(&mut db, &key(&f), no_csr).unwrap_err();
    assert_eq!(
        (e.kind, e.object.as_deref()),
        (ErrorKind::Missed, Some("csr"))
    );
    assert!(
        e.message.contains(&format!("item {no_csr}")),
        "{}",
        e.message
    );
    let e = CertificateOrderData::load(&mut db, &key(&f), no_cn).unwrap_err();
    assert_eq!(
        (e.kind, e.object.as_deref()),
        (ErrorKind::Missed, Some("CN"))
    );
    assert!(
        e.message.contains(&format!("item {no_cn}")),
        "{}",
        e.message
    );
    let d = CertificateOrderData::load(&mut db, &key(&f), cn_from_csr).unwrap();
    assert_eq!(d.cn, "example.com");
    assert_eq!(d.item.period, Period::Months(24));
}

#[test]
fn post_callbacks_set_status_and_delete_the_running_operation() {
    let f = fixture();
    let m = f.mgr.mgrctl();
    let cases: &[(&str, Option<i32>)] = &[
        ("open", Some(2)),
        ("suspend", Some(3)),
        ("resume", Some(2)),
        ("prolong", None),
        ("reopen", None),
        ("setparam", None),
        ("close", Some(4)),
    ];
    for (op, status) in cases {
        let before = f.db.item_status(f.item);
        let ro = f.db.create_running_operation(f.item, op);
        match *op {
            "open" => m.postopen(f.item),
            "suspend" => m.postsuspend(f.item),
            "resume" => m.postresume(f.item),
            "prolong" => m.postprolong(f.item),
            "reopen" => m.postreopen(f.item),
            "setparam" => m.postsetparam(f.item),
            "close" => m.postclose(f.item),
            _ => unreachable!(),
        }
        .unwrap();
        assert_eq!(f.db.running_operation(ro), None, "{op}: operation deleted");
        assert_eq!(f.db.item_status(f.item), status.unwrap_or(before), "{op}");
    }
    assert_eq!(
        ItemStatus::from_db(f.db.item_status(f.item)),
        ItemStatus::Deleted
    );
    assert!(
        f.db.item_dates(f.item).1.is_some(),
        "postopen sets opendate"
    );
    assert_eq!(
        f.mgr.journal_funcs(),
        [
            "service.postopen",
            "service.postsuspend",
            "service.postresume",
            "service.postprolong",
            "service.postreopen",
            "service.postsetparam",
            "service.postclose"
        ]
    );
}

#[test]
fn service_data_callbacks_are_applied() {
    let f = fixture();
    let m = f.mgr.mgrctl();
    m.saveparam(f.item, "remote_order", "A-1").unwrap();
    assert_eq!(
        f.db.item_param(f.item, "remote_order").as_deref(),
        Some("A-1")
    );
    m.saveparam(f.item, "remote_order", "A-2").unwrap();
    assert_eq!(
        f.db.item_param(f.item, "remote_order").as_deref(),
        Some("A-2")
    );
    dropparam(&m, f.item, "remote_order").unwrap();
    assert_eq!(f.db.item_param(f.item, "remote_order"), None);

    saveparam_crypted(&m, f.item, "remote_secret", "s3 cr=t").unwrap();
    assert_eq!(f.db.item_param(f.item, "remote_secret"), None);
    let raw =
        f.db.item_crypted_param_raw(f.item, "remote_secret")
            .unwrap();
    assert_ne!(raw, "s3 cr=t");
    assert_eq!(openssl_decrypt(&raw), "s3 cr=t");
    let mut db = Db::connect(&m).unwrap();
    let params = db.item_params(f.item, &key(&f)).unwrap();
    assert_eq!(
        params.get("remote_secret").map(String::as_str),
        Some("s3 cr=t")
    );
    assert!(!f.mgr.journal_text().contains("s3 cr=t"));
    dropparam(&m, f.item, "remote_secret").unwrap();
    assert_eq!(f.db.item_crypted_param_raw(f.item, "remote_secret"), None);

    m.setstatus(f.item, ServiceStatus::Enrolled.code()).unwrap();
    assert_eq!(
        f.db.item_param(f.item, "service_status").as_deref(),
        Some("4")
    );
    m.setexpiredate(f.item, NaiveDate::from_ymd_opt(2027, 12, 31).unwrap())
        .unwrap();
    assert_eq!(f.db.item_dates(f.item).0.as_deref(), Some("2027-12-31"));
    assert_eq!(
        db.item(f.item).unwrap().expiredate,
        NaiveDate::from_ymd_opt(2027, 12, 31)
    );
}

#[test]
fn certificate_callbacks_are_applied() {
    let f = fixture();
    let m = f.mgr.mgrctl();
    let chain = format!("{}\n{}", CRT, CRT.replace("MIIB", "MIIC"));
    m.certificate_save(f.item, &chain, None).unwrap();
    assert_eq!(
        f.db.certificate_crt(f.item).as_deref(),
        Some(chain.as_str())
    );
    m.certificate_save(f.item, "UEsDBBQAAAAIAA==", Some("zip"))
        .unwrap();
    assert_eq!(
        f.db.certificate_crt(f.item).as_deref(),
        Some("UEsDBBQAAAAIAA==")
    );
    let ro = f.db.create_running_operation(f.item, "open");
    m.certificate_open(f.item).unwrap();
    assert_eq!(f.db.item_status(f.item), 2);
    assert_eq!(f.db.running_operation(ro), None);
    assert!(!f.db.certificate_failed(f.item));
    m.certificate_failed(f.item).unwrap();
    assert!(f.db.certificate_failed(f.item));
    // CSR untouched by certificate.save.
    let mut db = Db::connect(&m).unwrap();
    assert_eq!(
        db.certificate(f.item).unwrap().unwrap().csr.as_deref(),
        Some(EXAMPLE_CSR)
    );
}

const CRT: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0VSVElGSUNBVEUgVEVTVCBEQVRBMAoGCCqGSM49BAMC\nMBQxEjAQBgNVBAMMCWxvY2FsIGNhIDAeFw0yNjAxMDEwMDAwMDBaFw0yNzAxMDEw\n-----END CERTIFICATE-----";

#[test]
fn running_operation_and_task_callbacks_are_applied() {
    let f = fixture();
    let m = f.mgr.mgrctl();
    let ro = f.db.create_running_operation(f.item, "open");
    f.db.bump_trycount(ro);
    f.db.bump_trycount(ro);
    let mut db = Db::connect(&m).unwrap();
    let r = db.running_operation(ro).unwrap().unwrap();
    assert_eq!((r.id, r.item, r.trycount), (ro, Some(f.item), Ok(2)));
    assert_eq!(db.running_operation(9999).unwrap(), None);

    let err = ModuleError::missed("csr", "item has no CSR <&> «кириллица»");
    let xml = err.running_operation_xml(Some(f.module), "2026-01-01 10:00:00");
    m.runningoperation_error(ro, &xml).unwrap();
    assert_eq!(
        f.db.running_operation(ro).unwrap().errorxml.as_deref(),
        Some(xml.as_str())
    );

    m.runningoperation_setmanual(ro).unwrap();
    assert_eq!(f.db.running_operation(ro).unwrap().manual, "on");
    m.call(
        "runningoperation.edit",
        &[("elid", &ro.to_string()), ("manual", "off"), ("sok", "ok")],
    )
    .unwrap();
    assert_eq!(f.db.running_operation(ro).unwrap().manual, "off");

    assert_eq!(
        m.task_gettype("open", f.item).unwrap().as_deref(),
        Some("open_failed")
    );
    assert!(!db.has_open_task(ro).unwrap());
    m.task_edit(f.item, ro, "open_failed").unwrap();
    let tasks = f.db.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (
            tasks[0].runningoperation,
            tasks[0].item,
            tasks[0].task_type.as_str(),
            tasks[0].status
        ),
        (Some(ro), Some(f.item), "open_failed", 0)
    );
    assert_eq!(f.db.running_operation(ro).unwrap().task, Some(tasks[0].id));
    assert!(db.has_open_task(ro).unwrap());

    f.mgr.write_conf(
        "localhost",
        "root",
        "",
        &mysql_socket(),
        &["TaskType prolong -", "TaskType close ssl_close"],
    );
    assert_eq!(m.task_gettype("prolong", f.item).unwrap(), None);
    assert_eq!(
        m.task_gettype("close", f.item).unwrap().as_deref(),
        Some("ssl_close")
    );
}

#[test]
fn values_with_spaces_equals_newlines_and_non_ascii_pass_intact() {
    let f = fixture();
    let m = f.mgr.mgrctl();
    let values = [
        EXAMPLE_CSR,
        "ООО «Ромашка» и партнёры",
        "a=b=c",
        "  leading and trailing  ",
        "line1\nline2\r\nline3",
        "quotes \"double\" 'single' `back` $HOME ; | & < >",
        "tab\there",
        "emoji 🔒",
        // The stand-in inlines values as SQL literals (sim/src/mgrctl/db.rs): escapes and
        // placeholders inside a value stay data.
        "back\\slash \\' \\n \\0 % _ ? ?? '; DROP TABLE item; --",
    ];
    for (i, v) in values.iter().enumerate() {
        let name = format!("v{i}");
        m.saveparam(f.item, &name, v).unwrap();
        assert_eq!(
            f.db.item_param(f.item, &name).as_deref(),
            Some(*v),
            "value {i}"
        );
    }
    // The Python form carries the value in the key=value element itself.
    m.call(
        "service.saveparam",
        &[
            ("elid", &f.item.to_string()),
            ("org_name", "ИП Иванов = ok"),
            ("crypted", "off"),
            ("sok", "ok"),
        ],
    )
    .unwrap();
    assert_eq!(
        f.db.item_param(f.item, "org_name").as_deref(),
        Some("ИП Иванов = ok")
    );
    let journal = f.mgr.journal();
    assert_eq!(journal[1]["params"]["value"], values[1]);
}

#[test]
fn mgrctl_is_called_with_the_right_environment() {
    let f = fixture();
    f.mgr.mgrctl().setstatus(f.item, 3).unwrap();
    let j = f.mgr.journal();
    assert_eq!(j.len(), 1);
    assert_eq!(j[0]["ssh_connection"], "pmsslreseller");
    let cwd = std::fs::canonicalize(j[0]["cwd"].as_str().unwrap()).unwrap();
    assert_eq!(cwd, std::fs::canonicalize(f.mgr.path()).unwrap());
    assert_eq!(j[0]["params"]["service_status"], "3");
    assert_eq!(j[0]["outcome"], "ok");
    // Called as <root>/sbin/mgrctl without MGR5_ROOT, the stand-in finds its
    // root (and so its config) from its own path.
    let (code, stdout, _) = f
        .mgr
        .run_mgrctl(&["-m", "billmgr", "-o", "xml", "paramlist"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!("<DBName>{}</DBName>", f.db.name)),
        "{stdout}"
    );
    assert_eq!(f.mgr.mgrctl_count("paramlist"), 1);
}

#[test]
fn bad_calls_are_rejected_loudly() {
    let f = fixture();
    let elid = format!("elid={}", f.item);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "-m",
                "billmgr",
                "-o",
                "xml",
                "service.nosuchthing",
                "elid=1",
            ],
            "unknown_function",
        ),
        (
            vec!["-m", "billmgr", "-o", "xml", "service.postopen", "sok=ok"],
            "missed",
        ),
        (
            vec!["-m", "billmgr", "-o", "xml", "service.postopen", "elid=abc"],
            "value",
        ),
        (
            vec![
                "-m",
                "billmgr",
                "-o",
                "xml",
                "service.postopen",
                "elid=99999",
            ],
            "missed",
        ),
        (
            vec![
                "-m",
                "billmgr",
                "-o",
                "xml",
                "service.postopen",
                "elid=1",
                "typo=1",
            ],
            "value",
        ),
        (
            vec![
                "-m",
                "billmgr",
                "-o",
                "xml",
                "service.setstatus",
                &elid,
                "service_status=x",
            ],
            "value",
        ),
        (
            vec![
                "-m",
                "billmgr",
                "-o",
                "xml",
                "service.setexpiredate",
                &elid,
                "expiredate=31.12.2027",
            ],
            "value",
        ),
        (
            vec![
                "-m",
                "billmgr",
                "-o",
                "xml",
                "runningoperation.setmanual",
                "elid=77",
            ],
            "missed",
        ),
        (
            vec![
                "-m",
                "billmgr",
                "-o",
                "xml",
                "service.postopen",
                "no-equals-sign",
            ],
            "value",
        ),
        (vec!["service.postopen", "elid=1"], "missed"),
    ];
    for (args, kind) in &cases {
        let (code, stdout, stderr) = f.mgr.run_mgrctl(args);
        assert_eq!(code, 1, "{args:?}: {stdout}");
        assert!(
            stdout.contains(&format!("<error type=\"{kind}\"")),
            "{args:?}: {stdout}"
        );
        assert!(!stderr.is_empty(), "{args:?}");
    }
    // Nothing was applied.
    assert_eq!(f.db.item_status(f.item), 1);
    assert_eq!(f.db.item_param(f.item, "service_status"), None);
    // Through the typed wrapper: a billing error naming the function.
    let e = f.mgr.mgrctl().postopen(99999).unwrap_err();
    assert_eq!(
        (e.kind, e.object.as_deref()),
        (ErrorKind::Billing, Some("service.postopen"))
    );
    assert!(
        e.message.contains("item 99999 does not exist"),
        "{}",
        e.message
    );
    let e = f.mgr.mgrctl().call("no.such.func", &[]).unwrap_err();
    assert!(e.message.contains("unknown_function"), "{}", e.message);
    // Failed calls are journaled too.
    assert!(f
        .mgr
        .journal()
        .iter()
        .any(|j| j["outcome"] == "error:unknown_function"));
}

#[test]
fn mgrctl_without_its_config_fails_loudly() {
    let f = fixture();
    std::fs::remove_file(f.mgr.path().join("etc/billmgr-sim.conf")).unwrap();
    let e = f.mgr.mgrctl().paramlist().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Billing);
    assert!(e.message.contains("billmgr-sim.conf"), "{}", e.message);
}

#[test]
fn run_module_helper_runs_the_binary_in_the_root() {
    let f = fixture();
    let (code, stdout, _) = run_module(&f.mgr, &["--command", "features"], None);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("<doc"), "{stdout}");
}

#[test]
fn saveparam_without_value_deletes_and_processing_edit_reads_settings() {
    let f = fixture();
    let m = f.mgr.mgrctl();
    let item = f.item.to_string();
    m.saveparam(f.item, "tmp", "x").unwrap();
    // C++ form without value = delete (L-MOD DropParam).
    m.call(
        "service.saveparam",
        &[("elid", &item), ("sok", "ok"), ("name", "tmp")],
    )
    .unwrap();
    assert_eq!(f.db.item_param(f.item, "tmp"), None);
    // Python form, several params at once, crypted=off.
    m.call(
        "service.saveparam",
        &[
            ("elid", &item),
            ("a", "1"),
            ("b", "2"),
            ("crypted", "off"),
            ("sok", "ok"),
        ],
    )
    .unwrap();
    assert_eq!(f.db.item_param(f.item, "a").as_deref(), Some("1"));
    assert_eq!(f.db.item_param(f.item, "b").as_deref(), Some("2"));
    // Switching a param to crypted moves it out of itemparam.
    saveparam_crypted(&m, f.item, "a", "one").unwrap();
    assert_eq!(f.db.item_param(f.item, "a"), None);
    assert!(f.db.item_crypted_param_raw(f.item, "a").is_some());

    // processing.edit (P-U10: the stand-in answers crypted settings decrypted).
    let doc = m
        .call("processing.edit", &[("elid", &f.module.to_string())])
        .unwrap();
    let text = |name: &str| doc.child(name).map(|e| e.text.clone());
    assert_eq!(text("module").as_deref(), Some("pmsslreseller"));
    assert_eq!(
        text("url").as_deref(),
        Some("https://upstream.example.net/billmgr")
    );
    assert_eq!(text("password").as_deref(), Some(PASSWORD));
    assert!(m.call("processing.edit", &[("elid", "999")]).is_err());
}

// Callbacks the module does not make (so `Mgrctl` has no method for them),
// kept here to prove the mgrctl stand-in applies them as BILLmanager does
// (module-protocol.md §10.3).

fn dropparam(m: &pmsslreseller::billing::Mgrctl, item: u64, name: &str) -> Result<(), ModuleError> {
    let id = item.to_string();
    m.call(
        "service.dropparam",
        &[("elid", id.as_str()), ("name", name), ("sok", "ok")],
    )
    .map(drop)
}

/// PYLIB's form: `<name>=<value> crypted=on`.
fn saveparam_crypted(
    m: &pmsslreseller::billing::Mgrctl,
    item: u64,
    name: &str,
    value: &str,
) -> Result<(), ModuleError> {
    let id = item.to_string();
    m.call(
        "service.saveparam",
        &[
            ("elid", id.as_str()),
            ("sok", "ok"),
            (name, value),
            ("crypted", "on"),
        ],
    )
    .map(drop)
}
