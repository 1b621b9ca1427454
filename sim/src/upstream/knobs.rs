//! Behaviour switches for every guess the simulator has to make (upstream-api.md §9, §10 "sim knob"
//! column). One table: name, default, and which values are accepted. Tests flip them at start
//! (`--knob NAME=VALUE`) or at run time (`POST /_sim/knobs`) to prove the client works either way.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a knob accepts.
enum Accepts {
    OnOff,
    OneOf(&'static [&'static str]),
    /// Any non-empty token (error type strings).
    Word,
    /// A positive integer (seconds).
    Positive,
    /// A non-negative integer (days, page sizes); 0 usually means "off".
    NonNegative,
    /// `none`, `unissued` or `window:<days>`.
    RefundPolicy,
    /// Comma-separated list, may be empty.
    List,
    /// A non-negative decimal amount (`12.50`).
    Amount,
}

/// name, default, accepted values, what it covers.
const KNOBS: &[(&str, &str, Accepts)] = &[
    ("noise", "off", Accepts::OnOff), // SIM-4: unknown elements in every answer
    ("unknown_func_type", "missed", Accepts::Word), // SIM-5, A-U9
    ("auth_shape", "bm6", Accepts::OneOf(&["bm6", "bm5"])), // SIM-7, A-U12
    ("auth_error_type", "auth", Accepts::Word), // SIM-8, A-U9
    ("access_error_type", "access", Accepts::Word), // SIM-9, A-U9
    ("currency_strict", "on", Accepts::OnOff), // SIM-12
    ("refund_policy", "unissued", Accepts::RefundPolicy), // SIM-13
    ("balance_localized", "off", Accepts::OnOff), // SIM-14, A-U15
    ("item_status_label", "off", Accepts::OnOff), // SIM-23, A-U8
    // evidence-2026-12 "Status column" (3P-CODE N6, N5): lists and views carry the numeric `status`.
    ("status_column", "off", Accepts::OnOff),
    // evidence-2026-12 "Order answer": the new id as <id> (S17) or <item.id> (v2 API, BM4 S29).
    // `zero`: a broken upstream that orders but answers <id>0</id>.
    (
        "order_answer",
        "id",
        Accepts::OneOf(&["id", "item.id", "zero"]),
    ),
    // evidence-2026-12 "Order function" (3P-CODE N7): which order function exists.
    ("order_func", "classic", Accepts::OneOf(&["classic", "v2"])),
    // evidence-2026-12 "Orders" (3P-CODE N6): renew at expiry unless ordered with autoprolong=off.
    ("upstream_autoprolong", "on", Accepts::OnOff),
    ("list_remoteid", "off", Accepts::OnOff), // SIM-23, A-U10
    ("edit_remoteid", "on", Accepts::OnOff),  // SIM-24, A-U10
    ("ok_body", "ok", Accepts::OneOf(&["ok", "empty"])), // SIM-26, A-U5
    (
        "prolong_shape",
        "nested",
        Accepts::OneOf(&["nested", "flat"]),
    ), // SIM-27, A-U7
    ("prolong_reissues", "on", Accepts::OnOff), // SIM-27
    // DOC S9 cart semantics: a renewal without skipbasket=on lands in the cart unpaid, expiry unchanged.
    ("prolong_cart", "off", Accepts::OnOff),
    // A hostile upstream: service.prolong answers ok (with a newexpiredate) but never applies.
    ("prolong_applies", "on", Accepts::OnOff),
    // A dishonest upstream: the next money call (order, renewal, the upstream's own renewal, a cart
    // payment) takes this much more than its price, once; then the knob is 0 again.
    ("overcharge", "0", Accepts::Amount),
    // upstream-api.md §6 (3P-CODE S25): the client's payments list `payment`; `off`: the panel
    // does not offer it to a client (an unknown function).
    ("payment_list", "on", Accepts::OnOff),
    ("remoteid_unique", "off", Accepts::OnOff), // SIM-29, A-U10
    (
        "issue_mode",
        "manual",
        Accepts::OneOf(&["manual", "instant", "auto"]),
    ), // SIM-22
    ("issue_step_secs", "60", Accepts::Positive), // SIM-22: one 3→4→5 step per N sim seconds (auto)
    ("fail_cn", "", Accepts::List), // SIM-22: CNs whose issuance fails (service_status 6)
    // What the upstream's service expiry means (validity.rs). `subscription`: the paid
    // term, reissues within it free; `per_certificate`: the certificate's end, a paid renewal beyond.
    (
        "term_model",
        "subscription",
        Accepts::OneOf(&["subscription", "per_certificate"]),
    ),
    // ---- Field shapes (field-2026-12.md; the FS ids are the evidence files) ----
    // field-2026-12 §1: how a list row and the view show the item status. `code`: a bare number
    // (mocks only); `label`: localized text (as `item_status_label=on`, kept as an alias);
    // `orig`: <item_status orig="N">Label</item_status> (BILLmanager 6 hosting.gcore.com 2026-10,
    // FS 71186436630, 55077564878); `orig_compound`: orig carries compound codes 5_open, 5_prolong,
    // 3_autosuspend (BILLmanager 6 Zomro, FS 3598771711, 3568929349); `real_status`: no
    // item_status, the code in <item_real_status> (gcore, FS 71186436630); `orig_or_real`: gcore's
    // mix, even ids orig, odd ids real_status; `none`: no item status at all.
    (
        "item_status_shape",
        "code",
        Accepts::OneOf(&[
            "code",
            "label",
            "orig",
            "orig_compound",
            "real_status",
            "orig_or_real",
            "none",
        ]),
    ),
    // field-2026-12 §1-3: the language of status labels, "Daily charges", "/ Month" and the
    // prolong refusal (Russian panels: FS 71186436630, 55077564878, 3598771711).
    ("labels_lang", "en", Accepts::OneOf(&["en", "ru"])),
    // field-2026-12 §2: `with_real`: <expiredate> and <real_expiredate>, equal; `daily_label`:
    // <expiredate>Daily charges</expiredate>, the date only in <real_expiredate> (FS 55077564878,
    // 71186436630); `datetime`: 2027-06-07 20:00 (FS 3522491149); `dotted`: 07.06.2027.
    // `missing`: neither element; `garbage`: <expiredate>soon</expiredate> (no panel is known to
    // do either: an expiry the module cannot read must never buy a renewal).
    (
        "expiredate_shape",
        "date",
        Accepts::OneOf(&[
            "date",
            "with_real",
            "daily_label",
            "datetime",
            "dotted",
            "missing",
            "garbage",
        ]),
    ),
    // field-2026-12 §3 (FS 55077564878, 71186436630): `per_month`: <cost>1.75 € / Month</cost>
    // plus <item_cost> (the whole period) and <currency_str>; `symbol_prefix`: €21.00;
    // `comma`: 21,00 EUR.
    (
        "cost_shape",
        "plain",
        Accepts::OneOf(&["plain", "per_month", "symbol_prefix", "comma"]),
    ),
    // field-2026-12 §4 (FS 55077564878): `name_with_id`: <pricelist> = the plan name and
    // <pricelist_id> = its id, in the list and the view; `id`: the id in both.
    (
        "pricelist_shape",
        "default",
        Accepts::OneOf(&["default", "name_with_id", "id"]),
    ),
    // field-2026-12 §5 (FS 32391036524, 5296154253, 3578094251): the panel ignores skipbasket=on,
    // every order lands in the cart unpaid (paid by an admin with POST /_sim/cart/pay).
    ("order_cart", "off", Accepts::OnOff),
    // field-2026-12 §4-5 (FS 32391036524, 3509837948, 5296154253): the answer of an order that
    // lands in the cart: <ok/>, <ok>URL</ok>, or a cart id that is never a service id.
    (
        "cart_answer",
        "ok",
        Accepts::OneOf(&[
            "ok",
            "ok_url",
            "billorder.id",
            "billorder",
            "lineitem.id",
            "payment_id",
        ]),
    ),
    // field-2026-12 §5 (FS 66932350124): `warning`: every API error is
    // <doc><warning><error …>…</error></warning></doc>.
    ("error_wrap", "plain", Accepts::OneOf(&["plain", "warning"])),
    // field-2026-12 §5 (FS 3481085040): `totp_confirm`: the credentials of a 2FA account get
    // <doc><ok>func=totp.confirm</ok></doc> and nothing is done (default: an auth error).
    (
        "twofa_shape",
        "auth_error",
        Accepts::OneOf(&["auth_error", "totp_confirm"]),
    ),
    // field-2026-12 §5 (FS 3485857877): service.prolong is refused ("The service can be renewed
    // only after DATE", the date in <param name="value">) while the expiry is more than N days
    // away; 0 = never refused.
    ("prolong_not_before_days", "0", Accepts::NonNegative),
    // field-2026-12 §5 (FS 68455228345): the certificate list is paginated. Page size = p_cnt
    // (capped by list_page_max when > 0), else list_page_default when > 0, else everything.
    ("list_page_default", "0", Accepts::NonNegative),
    ("list_page_max", "0", Accepts::NonNegative),
    // `ignored`: a broken panel that always serves the first page.
    ("list_p_num", "on", Accepts::OneOf(&["on", "ignored"])),
    // `on`: every list answer carries <p_elems> (the total), <p_num>, <p_cnt>; sent anyway
    // whenever paging is in effect.
    ("list_p_elems", "off", Accepts::OnOff),
    // field-2026-12 §1 (FS 71186436630: a gcore list carries a row with item_status orig="4"
    // Deleted): deleted services stay in the certificate list, with their status. Off: they are
    // gone from it (the view of one answers "missed" either way).
    ("list_deleted", "off", Accepts::OnOff),
    // upstream-api.md §3.7 (A-U4), field-2026-12 §8: whether the certificate view shows its
    // domain validation (the e-mail's date, the DNS TXT value, the names to verify and the
    // validated ones), and under which names: `ispsystem` = the item params of ISPsystem's
    // GlobalSign module (`auth_dnstxt_value`, `domains_list`, …), `dcv` = `dcv_*` names.
    ("validation_view", "on", Accepts::OnOff),
    (
        "validation_names",
        "ispsystem",
        Accepts::OneOf(&["ispsystem", "dcv"]),
    ),
    // upstream-api.md §3.6, field-2026-12.md §8: what the view's <crt> holds, as the upstream's CA
    // module stored it. `chain`: PEM leaf + intermediate; `leaf`: the PEM leaf alone; `zip`: a
    // base64 ZIP (<cn>.crt, intermediate1.crt, <cn>.p7b), as when the CA gives PKCS#7.
    // `zip_hostile`: a ZIP whose one .crt unpacks to 4 MiB of zeros (no panel is known to do it).
    (
        "crt_shape",
        "chain",
        Accepts::OneOf(&["chain", "leaf", "zip", "zip_hostile"]),
    ),
];

/// Current knob values; only non-default values are stored (and persisted).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Knobs {
    #[serde(default)]
    values: BTreeMap<String, String>,
    /// The profile last applied (profiles.rs); `None` = never one since the start (`default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
}

impl Knobs {
    /// Every knob back to its default, then profile `name`'s bundle (profiles.rs). Unknown name:
    /// an error listing the known ones, nothing changed.
    pub fn apply_profile(&mut self, name: &str) -> Result<(), String> {
        let bundle = super::profiles::bundle(name)?;
        let mut fresh = Knobs::default();
        for (k, v) in bundle {
            fresh
                .set(k, v)
                .map_err(|e| format!("profile {name}: {e}"))?;
        }
        fresh.profile = Some(name.to_string());
        *self = fresh;
        Ok(())
    }

    /// The name of the profile last applied, or `default`.
    pub fn profile(&self) -> &str {
        self.profile.as_deref().unwrap_or("default")
    }

    /// A numeric knob (`Positive`, `NonNegative`); 0 if unreadable.
    pub fn number(&self, name: &str) -> u64 {
        self.get(name).parse().unwrap_or(0)
    }

    /// Sets one knob after checking name and value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let Some((_, default, accepts)) = KNOBS.iter().find(|(n, _, _)| *n == name) else {
            let names: Vec<&str> = KNOBS.iter().map(|(n, _, _)| *n).collect();
            return Err(format!(
                "unknown knob {name:?}; known: {}",
                names.join(", ")
            ));
        };
        let ok = match accepts {
            Accepts::OnOff => value == "on" || value == "off",
            Accepts::OneOf(values) => values.contains(&value),
            Accepts::Word => !value.is_empty() && !value.contains(char::is_whitespace),
            Accepts::Positive => value.parse::<u64>().map(|n| n > 0).unwrap_or(false),
            Accepts::NonNegative => value.parse::<u64>().is_ok(),
            Accepts::RefundPolicy => parse_refund_policy(value).is_some(),
            Accepts::List => true,
            Accepts::Amount => value
                .parse::<rust_decimal::Decimal>()
                .map(|d| !d.is_sign_negative())
                .unwrap_or(false),
        };
        if !ok {
            return Err(format!("bad value {value:?} for knob {name}"));
        }
        if value == *default {
            self.values.remove(name);
        } else {
            self.values.insert(name.to_string(), value.to_string());
        }
        Ok(())
    }

    /// Parses `NAME=VALUE` (command line).
    pub fn set_assignment(&mut self, assignment: &str) -> Result<(), String> {
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| format!("--knob wants NAME=VALUE, got {assignment:?}"))?;
        self.set(name.trim(), value.trim())
    }

    pub fn get(&self, name: &str) -> &str {
        if let Some(v) = self.values.get(name) {
            return v;
        }
        KNOBS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, d, _)| *d)
            .unwrap_or("")
    }

    pub fn on(&self, name: &str) -> bool {
        self.get(name) == "on"
    }

    /// All knobs with their effective values (for `GET /_sim/knobs`).
    pub fn effective(&self) -> BTreeMap<String, String> {
        KNOBS
            .iter()
            .map(|(n, _, _)| (n.to_string(), self.get(n).to_string()))
            .collect()
    }

    pub fn refund_policy(&self) -> RefundPolicy {
        parse_refund_policy(self.get("refund_policy")).unwrap_or(RefundPolicy::Unissued)
    }

    pub fn issue_step_secs(&self) -> i64 {
        self.get("issue_step_secs").parse().unwrap_or(60)
    }

    pub fn fails_cn(&self, cn: &str) -> bool {
        self.get("fail_cn")
            .split(',')
            .map(str::trim)
            .any(|c| !c.is_empty() && c.eq_ignore_ascii_case(cn))
    }
}

/// SIM-13: what a deleted certificate gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundPolicy {
    None,
    /// Everything paid, while the certificate is not issued (service_status < 5).
    Unissued,
    /// Everything paid, while not issued or within N days of the (last) issue.
    Window(u32),
}

fn parse_refund_policy(value: &str) -> Option<RefundPolicy> {
    match value {
        "none" => Some(RefundPolicy::None),
        "unissued" => Some(RefundPolicy::Unissued),
        v => v
            .strip_prefix("window:")
            .and_then(|d| d.parse().ok())
            .map(RefundPolicy::Window),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validation_and_reset() {
        let mut k = Knobs::default();
        assert_eq!(k.get("prolong_shape"), "nested");
        assert!(k.set("prolong_shape", "weird").is_err());
        assert!(k.set("nope", "on").is_err());
        k.set("refund_policy", "window:14").unwrap();
        assert_eq!(k.refund_policy(), RefundPolicy::Window(14));
        k.set_assignment("fail_cn=a.example, b.example").unwrap();
        assert!(k.fails_cn("B.example"));
        k.set("refund_policy", "unissued").unwrap();
        assert!(!k.values.contains_key("refund_policy"));
        assert!(k.set("prolong_not_before_days", "-1").is_err());
        k.set("prolong_not_before_days", "0").unwrap();
        k.set("list_page_max", "3").unwrap();
        assert_eq!(k.number("list_page_max"), 3);
    }

    #[test]
    fn every_profile_applies_and_resets_the_rest() {
        for (name, bundle) in super::super::profiles::PROFILES {
            let mut k = Knobs::default();
            k.set("noise", "on").unwrap();
            k.apply_profile(name).unwrap();
            assert_eq!(k.profile(), *name);
            assert_eq!(k.get("noise"), "off", "{name} resets the other knobs");
            for (knob, value) in *bundle {
                assert_eq!(k.get(knob), *value, "{name}: {knob}");
            }
        }
        let mut k = Knobs::default();
        assert_eq!(k.profile(), "default");
        let e = k.apply_profile("bm7").unwrap_err();
        assert!(e.contains("bm6-gcore") && e.contains("bm5-classic"), "{e}");
    }
}
