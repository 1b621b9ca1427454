//! The mgrctl stand-in under 8 processes at once (a bulk sync with 8 concurrent readers
//! makes its writes from many processes): every call applied, one whole journal line each even when
//! a line is longer than a pipe buffer, and a counted fault fires exactly once across processes.

mod support;

use support::billing::{TestDb, TestMgr};

const PROCESSES: usize = 8;
const CALLS_EACH: usize = 12;

#[test]
fn eight_processes_at_once_apply_every_call_and_journal_whole_lines() {
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    // The 7th setstatus of all processes together is dropped (answers ok, stores nothing).
    mgr.write_conf(
        "localhost",
        "root",
        "",
        &support::billing::mysql_socket(),
        &["Fault drop service.setstatus 7"],
    );
    let items: Vec<u64> = (0..PROCESSES).map(|_| db.seed_bare_item()).collect();
    // Longer than PIPE_BUF (4096): a line written in pieces could interleave with another's.
    let long = "x".repeat(6000);
    std::thread::scope(|s| {
        for (p, item) in items.iter().enumerate() {
            let (mgr, long) = (&mgr, &long);
            s.spawn(move || {
                let elid = format!("elid={item}");
                for n in 0..CALLS_EACH {
                    let value = format!("value={p}-{n}-{long}");
                    let (code, out, err) = mgr.run_mgrctl(&[
                        "-m",
                        "billmgr",
                        "-o",
                        "xml",
                        "service.saveparam",
                        &elid,
                        "name=pmss_load",
                        &value,
                    ]);
                    assert_eq!(code, 0, "{out}{err}");
                    let status = format!("service_status={}", n % 6);
                    let (code, out, err) = mgr.run_mgrctl(&[
                        "-m",
                        "billmgr",
                        "-o",
                        "xml",
                        "service.setstatus",
                        &elid,
                        &status,
                    ]);
                    assert_eq!(code, 0, "{out}{err}");
                }
            });
        }
    });
    for (p, item) in items.iter().enumerate() {
        let want = format!("{p}-{}-{long}", CALLS_EACH - 1);
        assert_eq!(db.item_param(*item, "pmss_load").as_deref(), Some(&*want));
    }
    let text = mgr.journal_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), PROCESSES * CALLS_EACH * 2);
    let mut drops = 0;
    for line in lines {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: a broken journal line"));
        match entry["outcome"].as_str() {
            Some("ok") => {}
            Some("fault:drop") => {
                assert_eq!(entry["func"], "service.setstatus");
                drops += 1;
            }
            other => panic!("unexpected outcome {other:?}"),
        }
        if entry["func"] == "service.saveparam" {
            assert!(entry["params"]["value"]
                .as_str()
                .is_some_and(|v| v.ends_with(&long)));
        }
    }
    assert_eq!(drops, 1, "the 7th setstatus of all processes, once");
}
