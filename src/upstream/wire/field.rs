//! The shapes live BILLmanager panels really answer in (field-2026-12.md
//! §1–5), read in one place: status codes, dates, money, tariff ids, cart
//! answers, a pending second factor, renewal refusals, pagination.
//!
//! Our simulator was written from the same guesses as the module, so every
//! shape here has a source (the `FS` ids are search-tool ids of the public
//! files that show it) and a simulator knob (`sim/README.md`, "Field shapes
//! and profiles"). Where a panel may answer in several shapes, each is read;
//! which one a run met is logged once per run ([`note_shape`]), so a log
//! tells what the real upstream does. A value none of them explains is
//! "unknown", never a parse error and never read from a label.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::NaiveDate;

use super::super::error::ApiError;
use rust_decimal::Decimal;

use super::super::parse::Node;
use crate::vocab::ItemStatus;

// ---- logging which shape a run met ------------------------------------------

/// Each shape is logged the first time a run meets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `<status>2</status>` (BILLmanager 6 lists, FS 3555004354).
    StatusColumn,
    /// `<item_status orig="2">Label</item_status>` (gcore, FS 71186436630).
    ItemStatusOrig,
    /// A compound `orig` such as `5_open`, `3_autosuspend` (Zomro, FS 3598771711).
    CompoundOrig,
    /// `<item_real_status>2</item_real_status>` without a code elsewhere (gcore).
    ItemRealStatus,
    /// `<item_status>2</item_status>`, a bare number.
    ItemStatusNumber,
    /// No status code we can read: the status is unknown.
    StatusUnknown,
    /// `<expiredate>` is a label ("Daily charges"); the date is in `<real_expiredate>`.
    ExpiryLabel,
    /// `<expiredate>` is neither a date nor explained by `<real_expiredate>`.
    ExpiryUnreadable,
    /// `<pricelist>` is a name, the tariff id is in `<pricelist_id>` (FS 55077564878).
    PricelistId,
    /// `<item_cost>` is the price of the whole period (FS 55077564878).
    ItemCost,
    /// The list carries `<p_elems>` (paginated lists, FS 68455228345).
    Paginated,
}

static SEEN: AtomicU32 = AtomicU32::new(0);

/// Log `what` the first time this process meets `shape` (info; warn for the
/// shapes that lose information).
pub fn note_shape(shape: Shape, what: impl FnOnce() -> String) {
    let bit = 1u32 << (shape as u32);
    if SEEN.fetch_or(bit, Ordering::Relaxed) & bit != 0 {
        return;
    }
    match shape {
        Shape::StatusUnknown | Shape::ExpiryUnreadable => {
            log::warn!("upstream answer shape: {}", what())
        }
        _ => log::info!("upstream answer shape: {}", what()),
    }
}

/// A value from the peer for a log line: one line, cut.
fn shown(v: &str) -> String {
    crate::quote::shorten(&crate::secret::redact(v), 60)
}

// ---- status (field-2026-12 §1) ---------------------------------------------

/// A whole code: `2`, not `2x` or a label.
fn plain_code(text: &str) -> Option<i32> {
    let t = text.trim();
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
}

/// The leading code of an `orig` attribute: `4` → 4, `5_open` → 5,
/// `2_2_16` → 2; `reboot`, `service_nosuitable`, `` → none (Zomro's
/// `item_status_*` messages, FS 3598771711, 3568929349).
fn orig_code(orig: &str) -> Option<i32> {
    let t = orig.trim();
    let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (code, rest) = t.split_at(digits);
    if code.is_empty() || !(rest.is_empty() || rest.starts_with('_')) {
        return None;
    }
    code.parse().ok()
}

/// The service status code of a list row or a view, from the first of
/// (field-2026-12 §1; evidence-2026-12 "Status column", 3P-CODE N6/N5):
/// 1. `<status>`, a bare code (BILLmanager 6 lists, Zomro, spacecore);
/// 2. the leading digits of `<item_status orig="…">` (gcore; compound on Zomro);
/// 3. `<item_real_status>` (gcore rows without `item_status`);
/// 4. `<item_status>` when it is a bare number (mocks only).
///
/// The element text of `item_status` is a localized label and never read as
/// a code. Codes as [`ItemStatus`] (A-U8): 1 ordered, 2 active, 3 stopped,
/// 4 deleted, 5 processing. `None`: unknown (logged once per run).
pub fn item_status_code(n: &Node) -> Option<ItemStatus> {
    if let Some(code) = n.child_text("status").and_then(plain_code) {
        note_shape(Shape::StatusColumn, || {
            "status codes from the <status> column".into()
        });
        return Some(ItemStatus::from_db(code));
    }
    let item_status = n.child("item_status");
    if let Some(orig) = item_status.and_then(|s| s.attr("orig")) {
        if let Some(code) = orig_code(orig) {
            if plain_code(orig).is_some() {
                note_shape(Shape::ItemStatusOrig, || {
                    "status codes from <item_status orig=\"…\"> (BILLmanager 6 style)".into()
                });
            } else {
                note_shape(Shape::CompoundOrig, || {
                    format!(
                        "compound status codes in <item_status orig=\"…\"> (e.g. '{}'); the leading number is the status",
                        shown(orig)
                    )
                });
            }
            return Some(ItemStatus::from_db(code));
        }
    }
    if let Some(code) = n.child_text("item_real_status").and_then(plain_code) {
        note_shape(Shape::ItemRealStatus, || {
            "status codes from <item_real_status>".into()
        });
        return Some(ItemStatus::from_db(code));
    }
    if let Some(code) = item_status.and_then(|s| plain_code(&s.text)) {
        note_shape(Shape::ItemStatusNumber, || {
            "status codes as a bare number in <item_status>".into()
        });
        return Some(ItemStatus::from_db(code));
    }
    note_shape(Shape::StatusUnknown, || {
        let label = item_status
            .map(|s| shown(s.text.trim()))
            .unwrap_or_default();
        let orig = item_status
            .and_then(|s| s.attr("orig"))
            .map(shown)
            .unwrap_or_default();
        format!(
            "a row or view without a status code this module can read (item_status '{label}', orig '{orig}'); \
             its status is treated as unknown and nothing is decided from it"
        )
    });
    None
}

// ---- dates (field-2026-12 §2) -----------------------------------------------

/// A BILLmanager date: `YYYY-MM-DD`, possibly followed by a time
/// (`2025-04-07 20:00`, FS 3522491149). Also `DD.MM.YYYY`, the Russian
/// locale's form: UNCONFIRMED, no field source shows a panel sending it; read
/// because an answer in that form was met in an evaluation of this module,
/// and the dotted form is day-first in every locale BILLmanager ships.
/// Empty, `0000-00-00` and anything else: none.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let day = raw.trim().split([' ', 'T']).next()?;
    let b = day.as_bytes();
    if b.len() != 10 {
        return None;
    }
    let format = match (b[4], b[7], b[2], b[5]) {
        (b'-', b'-', _, _) => "%Y-%m-%d",
        (_, _, b'.', b'.') => "%d.%m.%Y",
        _ => return None,
    };
    NaiveDate::parse_from_str(day, format).ok()
}

/// The service's expiry: `<real_expiredate>` where the panel shows it (the
/// only date where `<expiredate>` is a label such as `Daily charges` /
/// `Ежедневное списание`, and equal to it otherwise: FS 55077564878,
/// 71186436630), else `<expiredate>`. A label is never read as a date.
pub fn expiry_of(n: &Node) -> Option<NaiveDate> {
    let shown_expiry = n.child_text("expiredate");
    if let Some(real) = n.child_text("real_expiredate").and_then(parse_date) {
        if let Some(label) = shown_expiry.filter(|e| parse_date(e).is_none()) {
            note_shape(Shape::ExpiryLabel, || {
                format!(
                    "<expiredate> is a label ('{}'); the expiry is read from <real_expiredate>",
                    shown(label)
                )
            });
        }
        return Some(real);
    }
    let raw = shown_expiry?;
    let date = parse_date(raw);
    if date.is_none() {
        note_shape(Shape::ExpiryUnreadable, || {
            format!(
                "<expiredate> '{}' is not a date and there is no <real_expiredate>; the expiry is unknown",
                shown(raw)
            )
        });
    }
    date
}

// ---- tariff ids and money (field-2026-12 §3, §4) ----------------------------

/// The tariff of a row or view: `<pricelist_id>` where a panel shows the
/// name in `<pricelist>` (FS 55077564878), else `<pricelist>` as shown (an id
/// or a name, A-U8).
pub fn tariff_of(n: &Node) -> String {
    if let Some(id) = n
        .child_text("pricelist_id")
        .filter(|t| plain_code(t).is_some())
    {
        note_shape(Shape::PricelistId, || {
            "tariff ids from <pricelist_id> (<pricelist> is the name)".into()
        });
        return id.to_string();
    }
    n.child_text("pricelist").unwrap_or_default().to_string()
}

/// The price of one period as the row shows it, in one spelling whatever
/// the panel's (`21.00 EUR`): `<item_cost>` (the whole period) with
/// `<currency_str>` where the panel gives them, since `<cost>` is then a
/// per-month price such as `1.80 € / Месяц` (FS 55077564878); else `<cost>`.
/// A per-period price without `<item_cost>` (`/ Month`) and text that is no
/// amount stay as shown.
pub fn period_cost(n: &Node) -> Option<String> {
    let cost = n.child_text("cost");
    if let Some((amount, _)) = n.child_text("item_cost").and_then(parse_money) {
        note_shape(Shape::ItemCost, || {
            "period prices from <item_cost> (<cost> is per month)".into()
        });
        let currency = n
            .child_text("currency_str")
            .map(currency_code)
            .or_else(|| cost.and_then(parse_money).and_then(|m| m.1));
        return Some(money_text(amount, currency));
    }
    let shown = cost?;
    if shown.contains('/') {
        return Some(shown.to_string());
    }
    Some(match parse_money(shown) {
        Some((amount, currency)) => money_text(amount, currency),
        None => shown.to_string(),
    })
}

/// `21.00 EUR`: two decimals, the currency code after.
fn money_text(amount: Decimal, currency: Option<String>) -> String {
    let amount =
        amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    match currency {
        Some(c) => format!("{amount:.2} {c}"),
        None => format!("{amount:.2}"),
    }
}

/// A money amount as BILLmanager may print it: `123.45`, `12221243.00`,
/// `1 234,56`, `1 234,56 руб.` (non-breaking spaces), `-5.00 EUR`,
/// `1,234.56`, and as live panels show prices (field-2026-12 §3, FS
/// 55077564878, 71186436630): `1.80 € / Месяц` (the `/ period` tail is the
/// billing period, not the currency), `€5.00` (the currency before the
/// number), `5,00 EUR`. Returns the amount and the currency, as an ISO code
/// where the symbol or word is a known one ([`currency_code`]).
/// One function for every amount we read (A-U15, upstream-api.md §6, §10).
pub fn parse_money(text: &str) -> Option<(Decimal, Option<String>)> {
    // "1.80 € / Month": what follows the slash is the period, never part of
    // the amount or the currency.
    let t = text.split('/').next().unwrap_or_default().trim();
    // The number starts at the first digit, or at a minus sign right before one.
    let chars: Vec<char> = t.chars().collect();
    let first_digit = chars.iter().position(|c| c.is_ascii_digit())?;
    let is_minus = |c: &char| *c == '-' || *c == '\u{2212}';
    let head = &chars[..first_digit];
    // A minus right before the number (`-5.00`, `€-5.00`), or before a short
    // currency symbol that precedes it (`-€5.00`); a dash elsewhere in a
    // label is no sign.
    let sign: Vec<char> = head
        .iter()
        .copied()
        .filter(|c| !c.is_whitespace())
        .collect();
    let negative = sign.last().is_some_and(is_minus)
        || (sign.first().is_some_and(is_minus) && sign.len() <= 5);
    let is_group_space = |c: char| c == ' ' || c == '\u{a0}' || c == '\u{202f}' || c == '\u{2009}';
    let mut end = first_digit;
    while end < chars.len()
        && (chars[end].is_ascii_digit()
            || chars[end] == '.'
            || chars[end] == ','
            || chars[end] == '\''
            || (is_group_space(chars[end])
                && chars.get(end + 1).is_some_and(|c| c.is_ascii_digit())))
    {
        end += 1;
    }
    let number: String = chars[first_digit..end]
        .iter()
        .filter(|c| !is_group_space(**c) && **c != '\'')
        .collect();
    let number = number.trim_end_matches(['.', ',']);
    let dots = number.matches('.').count();
    let commas = number.matches(',').count();
    let normal = match (dots, commas) {
        (0, 0) => number.to_string(),
        // One separator kind: a single one is the decimal point, several are grouping.
        (1, 0) => number.to_string(),
        (0, 1) => number.replace(',', "."),
        (_, 0) => number.replace('.', ""),
        (0, _) => number.replace(',', ""),
        // Both: the last one is the decimal point.
        _ => {
            let last_dot = number.rfind('.')?;
            let last_comma = number.rfind(',')?;
            if last_dot > last_comma {
                if dots > 1 {
                    return None;
                }
                number.replace(',', "")
            } else {
                if commas > 1 {
                    return None;
                }
                number.replace('.', "").replace(',', ".")
            }
        }
    };
    let mut value: Decimal = normal.parse().ok()?;
    if negative {
        value = -value;
    }
    let clean = |s: String| -> Option<String> {
        let c = s.trim().trim_end_matches('.').trim().to_string();
        (!c.is_empty() && !c.chars().all(|ch| ch.is_ascii_digit() || is_minus(&ch))).then_some(c)
    };
    let after = clean(chars[end..].iter().collect());
    // A currency before the number is a symbol (`€5.00`, `US$ 5`), never a
    // word of a sentence.
    let before = clean(head.iter().filter(|c| !is_minus(c)).collect())
        .filter(|c| c.chars().count() <= 4 && !c.contains(char::is_whitespace));
    let currency = after
        .or(before)
        .filter(|c| c.chars().any(|ch| !ch.is_ascii_punctuation() || ch == '$'))
        .map(|c| currency_code(&c));
    Some((value, currency))
}

/// A currency as an ISO code where the symbol or word is a well-known one
/// (`€`, `₽`, `руб`, `$`, …, field-2026-12 §3); anything else as shown.
pub fn currency_code(shown: &str) -> String {
    let t = shown.trim().trim_end_matches('.').trim();
    let code = match t.to_lowercase().as_str() {
        "€" | "eur" | "евро" => "EUR",
        "$" | "us$" | "usd" => "USD",
        "₽" | "руб" | "р" | "rub" | "rur" => "RUB",
        "₴" | "грн" | "uah" => "UAH",
        "₸" | "тг" | "тенге" | "kzt" => "KZT",
        "£" | "gbp" => "GBP",
        _ => return t.to_string(),
    };
    code.to_string()
}

// ---- answers to money calls (field-2026-12 §5) ------------------------------

/// Elements that name an upstream **cart**, never a service: BILLmanager 5's
/// `billorder.id`, `billorder`, BILLmanager 6's new cart `lineitem.id`,
/// `payment_id` (FS 32391036524, 3509837948, 5296154253).
pub const CART_ELEMENTS: &[&str] = &["billorder.id", "billorder", "lineitem.id", "payment_id"];

/// How an order answer says "placed in the cart, not paid": a cart id
/// (`billorder.id 90001`), or `<ok>` with a link (`cart link …`) and no
/// service id (FS 32391036524, 5296154253, 3578094251). `None`: not a cart
/// answer.
pub fn cart_reference(doc: &Node) -> Option<String> {
    for name in CART_ELEMENTS {
        if let Some(v) = doc.child_text(name) {
            return Some(format!("{name} {}", shown(v)));
        }
    }
    doc.child_text("ok")
        .map(|link| format!("cart link {}", link_without_query(link)))
}

/// A link as safe to keep: scheme, host and path, and of the query only
/// `func` (`https://my.example.com/billmgr?func=cart`). A session `auth=…`
/// or any other parameter is dropped: the reference is logged, shown and
/// stored in the item's intent for good.
fn link_without_query(link: &str) -> String {
    let (base, query) = link.split_once('?').unwrap_or((link, ""));
    let base = base.split('#').next().unwrap_or_default();
    // No user:password@ either.
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://{host_and_path}")
        }
        None => base.to_string(),
    };
    let func = query
        .split(['&', '#'])
        .find_map(|kv| kv.strip_prefix("func="))
        .filter(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        });
    let kept = match func {
        Some(f) => format!("{base}?func={f}"),
        None => base,
    };
    shown(&kept)
}

/// The function a login waiting for its second factor is sent to.
pub const SECOND_FACTOR_FUNC: &str = "totp.confirm";

/// `<doc><ok>func=totp.confirm</ok></doc>`: the account has two-factor
/// authentication and the login waits for its code; nothing was done
/// (FS 3481085040). A credentials problem the admin must fix, as an `auth`
/// error about [`SECOND_FACTOR_FUNC`] (`error.rs` words it).
pub fn second_factor_pending(func: &str, doc: &Node) -> Option<ApiError> {
    let ok = doc.child_text("ok")?;
    if !ok.contains(SECOND_FACTOR_FUNC) {
        return None;
    }
    Some(ApiError {
        func: func.to_string(),
        kind: "auth".into(),
        object: Some(SECOND_FACTOR_FUNC.into()),
        code: None,
        params: Vec::new(),
        msg: Some(
            "the upstream login waits for a second factor (two-factor authentication is on for this account)"
                .into(),
        ),
        wrapped: false,
    })
}

/// "The service can be renewed only after DATE" (FS 3485857877: a live
/// panel's client matches this text and reads the date from `<param
/// name="value">`): a refusal that holds until that date, not a transient
/// error. The English text is the source's; the Russian one
/// ("продлить … только после") is UNCONFIRMED, our translation. The date is
/// read from the `value` param, else from the end of the message.
pub fn renewal_not_before(e: &ApiError) -> Option<NaiveDate> {
    let msg = e.msg.as_deref().unwrap_or_default();
    let lower = msg.to_lowercase();
    let matches = lower.contains("renewed only after")
        || lower.contains("can only be renewed after")
        || (lower.contains("продл") && lower.contains("только после"));
    if !matches {
        return None;
    }
    e.param("value").and_then(parse_date).or_else(|| {
        msg.split_whitespace()
            .rev()
            .find_map(|w| parse_date(w.trim_end_matches(['.', ','])))
    })
}

// ---- pagination (field-2026-12 §5) ------------------------------------------

/// Rows asked for per list page: what live clients send (FS 68455228345).
pub const LIST_PAGE_SIZE: u32 = 1000;
/// More pages than this is not a certificate list we read (200,000 rows at
/// 1,000 a page, or a panel that keeps inventing rows): the read stops with
/// an error instead of holding an item's lock for ever.
pub const MAX_LIST_PAGES: u32 = 200;

/// `p_cnt` and `p_num` (1-based) of a list request.
pub fn page_fields(page: u32) -> Vec<(String, String)> {
    vec![
        ("p_cnt".into(), LIST_PAGE_SIZE.to_string()),
        ("p_num".into(), page.to_string()),
    ]
}

/// `<p_elems>`: the rows of the whole list, where the panel says.
pub fn list_total(doc: &Node) -> Option<u64> {
    let total = doc.child_text("p_elems").and_then(|t| t.parse().ok());
    if let Some(t) = total {
        note_shape(Shape::Paginated, || {
            format!("lists are paginated (<p_elems> {t}); every page is read")
        });
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::parse::parse_answer;

    fn doc(xml: &str) -> Node {
        parse_answer("t", xml.as_bytes()).unwrap()
    }

    #[test]
    fn status_in_every_shape() {
        let code = |xml: &str| item_status_code(&doc(xml));
        use ItemStatus::*;
        // 1. the status column wins over a label
        assert_eq!(
            code("<doc><status>2</status><item_status>Active</item_status></doc>"),
            Some(Active)
        );
        // 2. gcore: orig attribute, no status column (FS 71186436630)
        assert_eq!(
            code("<doc><item_status orig=\"4\">Deleted</item_status></doc>"),
            Some(Deleted)
        );
        assert_eq!(
            code("<doc><item_status orig=\"2\">Активен</item_status></doc>"),
            Some(Active)
        );
        // compound codes (Zomro, FS 3598771711)
        for (orig, want) in [
            ("5_open", Processing),
            ("5_prolong", Processing),
            ("3_autosuspend", Suspended),
            ("3_abusesuspend", Suspended),
            ("2_2_16", Active),
            ("2_genkey", Active),
        ] {
            let xml = format!("<doc><item_status orig=\"{orig}\">x</item_status></doc>");
            assert_eq!(code(&xml), Some(want), "{orig}");
        }
        // the status column still wins over a compound orig
        assert_eq!(
            code("<doc><status>3</status><item_status orig=\"5_open\">x</item_status></doc>"),
            Some(Suspended)
        );
        // 3. item_real_status only (gcore)
        assert_eq!(
            code("<doc><item_real_status>2</item_real_status></doc>"),
            Some(Active)
        );
        // a non-numeric orig falls through to item_real_status
        assert_eq!(
            code("<doc><item_status orig=\"reboot\">x</item_status><item_real_status>5</item_real_status></doc>"),
            Some(Processing)
        );
        // 4. a bare number in item_status (mocks)
        assert_eq!(
            code("<doc><item_status>3</item_status></doc>"),
            Some(Suspended)
        );
        // unknown: labels, words, nothing — never an error
        for xml in [
            "<doc><item_status>Active</item_status></doc>",
            "<doc><item_status orig=\"reboot\">Reboot</item_status></doc>",
            "<doc><item_status orig=\"service_nosuitable\">x</item_status></doc>",
            "<doc><item_status orig=\"\">x</item_status></doc>",
            "<doc><item_status orig=\"x5\">x</item_status></doc>",
            "<doc><status>two</status></doc>",
            "<doc><status>99999999999</status></doc>",
            "<doc/>",
        ] {
            assert_eq!(code(xml), None, "{xml}");
        }
        // out-of-range codes are read, and mean nothing known
        assert_eq!(code("<doc><status>7</status></doc>"), Some(Other(7)));
    }

    #[test]
    fn dates_in_every_shape() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(parse_date("2026-01-10"), d(2026, 1, 10));
        assert_eq!(parse_date(" 2026-01-10 12:00:00 "), d(2026, 1, 10));
        assert_eq!(parse_date("2025-04-07 20:00"), d(2025, 4, 7));
        assert_eq!(parse_date("2026-01-10T12:00:00Z"), d(2026, 1, 10));
        assert_eq!(parse_date("07.06.2027"), d(2027, 6, 7));
        assert_eq!(parse_date("07.06.2027 10:00"), d(2027, 6, 7));
        for bad in [
            "",
            "0000-00-00",
            "2026-1-1",
            "2026-13-01",
            "Daily charges",
            "Ежедневное списание",
            "06/07/2027",
            "ы",
            "2026-01-1x",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        let expiry = |xml: &str| expiry_of(&doc(xml));
        assert_eq!(
            expiry("<doc><expiredate>Daily charges</expiredate><real_expiredate>2026-10-08</real_expiredate></doc>"),
            d(2026, 10, 8)
        );
        assert_eq!(
            expiry("<doc><expiredate>Ежедневное списание</expiredate><real_expiredate>2026-10-08</real_expiredate></doc>"),
            d(2026, 10, 8)
        );
        assert_eq!(
            expiry("<doc><expiredate>2026-10-08</expiredate><real_expiredate>2026-10-08</real_expiredate></doc>"),
            d(2026, 10, 8)
        );
        assert_eq!(
            expiry("<doc><expiredate>2026-10-08</expiredate></doc>"),
            d(2026, 10, 8)
        );
        assert_eq!(
            expiry("<doc><expiredate>Daily charges</expiredate></doc>"),
            None
        );
        assert_eq!(expiry("<doc><expiredate/></doc>"), None);
        assert_eq!(expiry("<doc/>"), None);
    }

    #[test]
    fn tariff_and_period_cost() {
        assert_eq!(
            tariff_of(&doc("<doc><pricelist>Comodo Positive SSL</pricelist><pricelist_id>3033</pricelist_id></doc>")),
            "3033"
        );
        assert_eq!(
            tariff_of(&doc("<doc><pricelist>3033</pricelist></doc>")),
            "3033"
        );
        assert_eq!(
            tariff_of(&doc(
                "<doc><pricelist>Name</pricelist><pricelist_id>n/a</pricelist_id></doc>"
            )),
            "Name"
        );
        assert_eq!(tariff_of(&doc("<doc/>")), "");
        let cost = |xml: &str| period_cost(&doc(xml));
        // One spelling, whatever the panel's.
        for xml in [
            "<doc><cost>1.80 € / Месяц</cost><item_cost>21.6000</item_cost><currency_str>€</currency_str></doc>",
            "<doc><cost>1.80 € / Month</cost><item_cost>21.60</item_cost></doc>",
            "<doc><cost>21.60 EUR</cost></doc>",
            "<doc><cost>21,6 EUR</cost></doc>",
            "<doc><cost>€21.60</cost></doc>",
        ] {
            assert_eq!(cost(xml).as_deref(), Some("21.60 EUR"), "{xml}");
        }
        assert_eq!(
            cost("<doc><cost>0.005 EUR</cost></doc>").as_deref(),
            Some("0.01 EUR")
        );
        assert_eq!(cost("<doc><cost>7</cost></doc>").as_deref(), Some("7.00"));
        // A monthly price alone is not the period's: as shown.
        assert_eq!(
            cost("<doc><cost>1.80 € / Month</cost></doc>").as_deref(),
            Some("1.80 € / Month")
        );
        assert_eq!(
            cost("<doc><cost>free</cost></doc>").as_deref(),
            Some("free")
        );
        assert_eq!(cost("<doc/>"), None);
        assert_eq!(currency_code("€"), "EUR");
        assert_eq!(currency_code("руб."), "RUB");
        assert_eq!(currency_code("CHF"), "CHF");
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn money_formats() {
        let m = parse_money;
        assert_eq!(m("123.45"), Some((dec("123.45"), None)));
        assert_eq!(m("12221243.00"), Some((dec("12221243.00"), None)));
        assert_eq!(m("1 234,56"), Some((dec("1234.56"), None)));
        assert_eq!(
            m("1\u{a0}234,56\u{a0}руб."),
            Some((dec("1234.56"), Some("RUB".into())))
        );
        assert_eq!(
            m("12\u{202f}345\u{202f}678,9 руб."),
            Some((dec("12345678.9"), Some("RUB".into())))
        );
        assert_eq!(m("123.45 RUB"), Some((dec("123.45"), Some("RUB".into()))));
        assert_eq!(m("-5.00"), Some((dec("-5.00"), None)));
        assert_eq!(m("−5,00 EUR"), Some((dec("-5.00"), Some("EUR".into()))));
        assert_eq!(m("1,234.56"), Some((dec("1234.56"), None)));
        assert_eq!(m("1.234,56"), Some((dec("1234.56"), None)));
        assert_eq!(m("1,234,567"), Some((dec("1234567"), None)));
        assert_eq!(m("0"), Some((dec("0"), None)));
        assert_eq!(m("$ 10"), Some((dec("10"), Some("USD".into()))));
        assert_eq!(m("Total: 10"), Some((dec("10"), None)));
        assert_eq!(m(""), None);
        assert_eq!(m("abc"), None);
        assert_eq!(m("1.2.3,4,5"), None);
    }

    /// Prices as live panels print them (field-2026-12 §3: FS 55077564878,
    /// 71186436630).
    #[test]
    fn money_as_live_panels_print_it() {
        let m = parse_money;
        let eur = |v: &str| Some((dec(v), Some("EUR".to_string())));
        assert_eq!(m("1.80 € / Месяц"), eur("1.80"));
        assert_eq!(m("5.00 EUR / Month"), eur("5.00"));
        assert_eq!(m("€5.00"), eur("5.00"));
        assert_eq!(m("-€5.00"), Some((dec("-5.00"), Some("EUR".into()))));
        assert_eq!(m("5,00 EUR"), eur("5.00"));
        assert_eq!(
            m("75.00 RUB / Месяц"),
            Some((dec("75.00"), Some("RUB".into())))
        );
        assert_eq!(m("75 ₽"), Some((dec("75"), Some("RUB".into()))));
        assert_eq!(m("12 USD"), Some((dec("12"), Some("USD".into()))));
        assert_eq!(m("12 XTS"), Some((dec("12"), Some("XTS".into()))));
        assert_eq!(m("/ Month"), None);
        assert_eq!(m("€-5.00"), Some((dec("-5.00"), Some("EUR".into()))));
        assert_eq!(
            m("Charged - thank you: 5.00 EUR"),
            Some((dec("5.00"), Some("EUR".into())))
        );
    }

    #[test]
    fn cart_answers() {
        let cart = |xml: &str| cart_reference(&doc(xml));
        assert_eq!(
            cart("<doc><billorder.id>90001</billorder.id></doc>").as_deref(),
            Some("billorder.id 90001")
        );
        assert_eq!(
            cart("<doc><lineitem.id>7</lineitem.id></doc>").as_deref(),
            Some("lineitem.id 7")
        );
        assert_eq!(
            cart("<doc><billorder>7</billorder></doc>").as_deref(),
            Some("billorder 7")
        );
        assert_eq!(
            cart("<doc><payment_id>7</payment_id></doc>").as_deref(),
            Some("payment_id 7")
        );
        assert_eq!(
            cart("<doc><ok>https://my.example.com/billmgr?func=cart</ok></doc>").as_deref(),
            Some("cart link https://my.example.com/billmgr?func=cart")
        );
        // Nothing but scheme, host, path and func is kept of a link.
        let kept = cart(
            "<doc><ok>https://u:pw@my.example.com/billmgr?auth=abc123&amp;authinfo=u:p%40ss%20x&amp;func=cart#top</ok></doc>",
        )
        .unwrap();
        assert_eq!(kept, "cart link https://my.example.com/billmgr?func=cart");
        assert_eq!(cart("<doc><ok/></doc>"), None);
        assert_eq!(cart("<doc><id>5</id></doc>"), None);
    }

    #[test]
    fn renewal_refusal_date() {
        let refusal = |msg: &str, value: Option<&str>| ApiError {
            func: "service.prolong".into(),
            kind: "value".into(),
            object: Some("elid".into()),
            code: None,
            params: value
                .map(|v| vec![("value".to_string(), v.to_string())])
                .unwrap_or_default(),
            msg: Some(msg.into()),
            wrapped: false,
        };
        let d = NaiveDate::from_ymd_opt(2027, 5, 1);
        assert_eq!(
            renewal_not_before(&refusal(
                "The service can be renewed only after 2027-05-01",
                Some("2027-05-01")
            )),
            d
        );
        assert_eq!(
            renewal_not_before(&refusal(
                "The service can be renewed only after 01.05.2027.",
                None
            )),
            d
        );
        assert_eq!(
            renewal_not_before(&refusal(
                "Услугу можно продлить только после 2027-05-01",
                Some("2027-05-01")
            )),
            d
        );
        assert_eq!(
            renewal_not_before(&refusal("Invalid value of 'period'", Some("2027-05-01"))),
            None
        );
        assert_eq!(
            renewal_not_before(&refusal("renewed only after soon", None)),
            None
        );
    }

    /// Every shape has its own bit in `SEEN` (a u32).
    const _: () = assert!((Shape::Paginated as u32) < 32);

    #[test]
    fn a_shape_is_noted_once() {
        note_shape(Shape::Paginated, || "x".into());
        note_shape(Shape::Paginated, || panic!("logged twice"));
    }
}
