//! The protocol front as BILLmanager sees it: the binary's answers to
//! `features`, bad and unknown argv, unknown commands, and the descriptor kept
//! in step with `features` and with every error type we can raise.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use pmsslreseller::commands::advertised_features_for;
use pmsslreseller::config::Config;

/// What `features` prints with no config file: the defaults.
fn advertised_features() -> Vec<&'static str> {
    advertised_features_for(&Config::default())
}
use pmsslreseller::protocol::error::ErrorKind;
use pmsslreseller::protocol::settings::MODULE_PARAMS;
use quick_xml::events::Event;

mod support;

const BIN: &str = env!("CARGO_BIN_EXE_pmsslreseller");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    log: String,
}

fn run(args: &[&str]) -> Run {
    let root = support::scratch_billmanager_root();
    let out = Command::new(BIN)
        .args(args)
        .env("MGR5_ROOT", root.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log =
        std::fs::read_to_string(root.path().join("var/pmsslreseller.log")).unwrap_or_default();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        log,
    }
}

/// A minimal XML view for assertions: (path, attributes) of every element.
fn elements(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (e, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let attrs = e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                    a.unescape_value().unwrap().into_owned(),
                )
            })
            .collect();
        stack.push(name);
        out.push((stack.join("/"), attrs));
        if empty {
            stack.pop();
        }
    }
    out
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn descriptor() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/xml/billmgr_mod_pmsslreseller.xml"
    ))
    .unwrap()
}

#[test]
fn features_document_lists_itemtype_params_and_implemented_features() {
    let r = run(&["--command", "features"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r
        .stdout
        .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc>"));
    let els = elements(&r.stdout);
    let itemtypes: Vec<_> = els
        .iter()
        .filter(|(p, _)| p == "doc/itemtypes/itemtype")
        .map(|(_, a)| attr(a, "name").unwrap().to_string())
        .collect();
    assert_eq!(itemtypes, vec!["certificate"]);
    let params: Vec<_> = els
        .iter()
        .filter(|(p, _)| p == "doc/params/param")
        .map(|(_, a)| {
            (
                attr(a, "name").unwrap().to_string(),
                attr(a, "crypted").is_some(),
            )
        })
        .collect();
    let expected: Vec<_> = MODULE_PARAMS
        .iter()
        .map(|p| (p.name.to_string(), p.crypted))
        .collect();
    assert_eq!(params, expected);
    assert!(params.contains(&("password".to_string(), true)));
    let features: Vec<_> = els
        .iter()
        .filter(|(p, _)| p == "doc/features/feature")
        .map(|(_, a)| attr(a, "name").unwrap().to_string())
        .collect();
    let expected: Vec<String> = advertised_features()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(features, expected);
}

#[test]
fn features_output_is_stable_between_runs() {
    let a = run(&["--command", "features"]).stdout;
    let b = run(&["--command", "features"]).stdout;
    assert_eq!(a, b);
}

#[test]
fn every_advertised_feature_is_not_answered_with_not_supported() {
    for f in advertised_features() {
        let r = run(&[
            "--command",
            f,
            "--item",
            "1",
            "--module",
            "1",
            "--subcommand",
            "list",
        ]);
        assert!(
            !r.stdout.contains("type=\"not_supported\""),
            "{f} is advertised but answers not_supported"
        );
    }
}

#[test]
fn unknown_command_is_not_supported_with_exit_1() {
    let r = run(&["--command", "reboot", "--item", "5"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("<error type=\"not_supported\" object=\"reboot\""),
        "{}",
        r.stdout
    );
}

#[test]
fn unknown_options_are_tolerated_and_logged() {
    let r = run(&["--command", "features", "--brandnew", "x", "--flag"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("<itemtypes>"), "{}", r.stdout);
    assert!(r.log.contains("brandnew=x"), "{}", r.log);
    assert!(
        r.log.contains("[features]"),
        "log lines carry the command tag: {}",
        r.log
    );
}

#[test]
fn bad_numbers_get_a_value_error_not_a_panic() {
    for bad in ["abc", "-3", "1.5", "99999999999999999999999"] {
        let r = run(&[
            "--command",
            "open",
            "--item",
            bad,
            "--runningoperation",
            "2",
        ]);
        assert_eq!(r.code, 1, "{bad}");
        assert!(
            r.stdout.contains("<error type=\"value\" object=\"item\""),
            "{bad}: {}",
            r.stdout
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}

#[test]
fn missing_command_is_an_error_document() {
    let r = run(&["--item", "5"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("<error type=\"missed\" object=\"command\""),
        "{}",
        r.stdout
    );
}

#[test]
fn no_arguments_without_a_terminal_is_an_error_document() {
    // BILLmanager never runs us without arguments; stdout is a pipe here.
    let r = run(&[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("type=\"missed\""), "{}", r.stdout);
}

#[test]
fn nonsense_subcommand_prints_usage_on_stderr() {
    let r = run(&["frobnicate"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Usage"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[test]
fn help_for_humans() {
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("--command"), "{}", r.stdout);
}

#[test]
fn broken_config_is_reported_as_config_error() {
    let root = support::scratch_billmanager_root();
    std::fs::write(
        root.path().join("etc/pmsslreseller.toml"),
        "[upstream]\ntimeout = 5\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--command", "features"])
        .env("MGR5_ROOT", root.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("<error type=\"config\""), "{stdout}");
    assert!(stdout.contains("timeout"), "{stdout}");
}

#[test]
fn descriptor_form_matches_features_params() {
    let d = descriptor();
    let els = elements(&d);
    let plugin: Vec<_> = els
        .iter()
        .filter(|(p, _)| p == "mgrdata/plugin")
        .map(|(_, a)| attr(a, "name").unwrap().to_string())
        .collect();
    assert_eq!(plugin, vec!["pmsslreseller"]);
    let types: Vec<_> = els
        .iter()
        .filter(|(p, _)| p == "mgrdata/plugin/params/type")
        .map(|(_, a)| attr(a, "name").unwrap().to_string())
        .collect();
    assert_eq!(types, vec![pmsslreseller::protocol::features::ITEMTYPE]);
    let form_inputs: BTreeSet<String> = els
        .iter()
        .filter(|(p, _)| {
            p.starts_with("mgrdata/metadata/form/page/field/")
                && (p.ends_with("/input") || p.ends_with("/select"))
        })
        .map(|(_, a)| attr(a, "name").unwrap().to_string())
        .collect();
    let params: BTreeSet<String> = MODULE_PARAMS.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(
        form_inputs, params,
        "form inputs and features params differ"
    );
    for p in MODULE_PARAMS {
        let input = els
            .iter()
            .find(|(path, a)| path.ends_with("/input") && attr(a, "name") == Some(p.name))
            .unwrap();
        assert_eq!(
            attr(&input.1, "required") == Some("yes"),
            p.required,
            "{}",
            p.name
        );
        if p.crypted {
            assert_eq!(attr(&input.1, "type"), Some("password"), "{}", p.name);
        }
    }
    let forms: Vec<_> = els
        .iter()
        .filter(|(p, _)| p == "mgrdata/metadata")
        .map(|(_, a)| attr(a, "name").unwrap().to_string())
        .collect();
    assert!(forms.contains(&"processing.edit.pmsslreseller".to_string()));
}

/// Every message name in `<messages name=group>` for one language.
fn messages(d: &str, lang: &str, group: &str) -> BTreeSet<String> {
    let mut reader = quick_xml::Reader::from_str(d);
    let (mut in_lang, mut in_group) = (false, false);
    let mut out = BTreeSet::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let attrs: Vec<(String, String)> = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                            a.unescape_value().unwrap().into_owned(),
                        )
                    })
                    .collect();
                match e.name().as_ref() {
                    b"lang" => in_lang = attr(&attrs, "name") == Some(lang),
                    b"messages" => in_group = in_lang && attr(&attrs, "name") == Some(group),
                    b"msg" if in_group => {
                        out.insert(attr(&attrs, "name").unwrap().to_string());
                    }
                    _ => {}
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"lang" => in_lang = false,
                b"messages" => in_group = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

#[test]
fn descriptor_has_ru_and_en_text_for_every_error_type_and_field() {
    let d = descriptor();
    for lang in ["ru", "en"] {
        let errors = messages(&d, lang, "msgerror");
        for k in ErrorKind::ALL {
            let name = format!("msg_error_{}", k.type_name());
            assert!(errors.contains(&name), "{lang}: no {name}");
        }
        let form = messages(&d, lang, "processing.edit.pmsslreseller");
        for p in MODULE_PARAMS {
            assert!(form.contains(p.name), "{lang}: no label for {}", p.name);
            assert!(
                form.contains(&format!("hint_{}", p.name)),
                "{lang}: no hint for {}",
                p.name
            );
        }
        let plugin = messages(&d, lang, "plugin");
        for m in ["desc_short_pmsslreseller", "desc_full_pmsslreseller"] {
            assert!(plugin.contains(m), "{lang}: no {m}");
        }
    }
}

/// The service form shows exactly the params the module writes for it
/// (term.rs `FORM_PARAMS`), each with a label and a hint in ru and en: a
/// param renamed in the code is renamed in the form, or this fails.
#[test]
fn service_form_shows_the_params_sync_writes_with_ru_and_en_text() {
    use pmsslreseller::vocab::item_params::FORM_PARAMS;
    let d = descriptor();
    let inputs: Vec<String> = elements(&d)
        .iter()
        .filter(|(p, _)| p == "mgrdata/metadata/form/field/input")
        .map(|(_, a)| attr(a, "name").unwrap().to_string())
        .collect();
    assert_eq!(inputs, FORM_PARAMS, "form fields and written params differ");
    for lang in ["ru", "en"] {
        let texts = messages(&d, lang, "certificate.pmsslreseller.my");
        for p in FORM_PARAMS {
            assert!(texts.contains(p), "{lang}: no label for {p}");
            assert!(
                texts.contains(&format!("hint_{p}")),
                "{lang}: no hint for {p}"
            );
        }
    }
}
