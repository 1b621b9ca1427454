//! How the demo prints: short aligned lines, calls with their interesting
//! parameters only (long values and PEM text abbreviated), colour only when
//! stdout is a terminal and `NO_COLOR` is unset.

use std::io::IsTerminal;

use serde_json::Value;

use super::local::ItemState;

/// Width a call line is cut to.
const LINE: usize = 118;
/// Values longer than this are shown as `<N chars>`.
const VALUE: usize = 40;
/// Parameters never worth showing: transport and confirmation noise.
const NOISE: &[&str] = &[
    "authinfo",
    "auth",
    "out",
    "func",
    "sok",
    "lang",
    "skipbasket",
];

#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn detect() -> Style {
        Style {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn good(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn bad(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
}

/// One value for display.
pub fn value(v: &str) -> String {
    let t = v.trim();
    if t.starts_with("-----BEGIN") {
        let kind = t
            .lines()
            .next()
            .unwrap_or_default()
            .trim_matches('-')
            .trim_start_matches("BEGIN ")
            .to_lowercase();
        return format!("<{kind} PEM>");
    }
    if t.chars().count() > VALUE || t.contains('\n') {
        return format!("<{} chars>", t.chars().count());
    }
    if t.is_empty() || t.contains(' ') {
        return format!("\"{t}\"");
    }
    t.to_string()
}

/// Parameters shown first, in this order, when present: what identifies the
/// call; the rest follow alphabetically.
const FIRST: &[&str] = &[
    "elid",
    "pricelist",
    "period",
    "CN",
    "altname",
    "remoteid",
    "crt_type",
    "name",
    "value",
    "service_status",
    "expiredate",
];

/// `k=v k=v …` of a JSON params object, noise left out, cut to fit.
pub fn params(p: &Value, room: usize) -> String {
    let mut out = String::new();
    if let Some(map) = p.as_object() {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by_key(|k| {
            (
                FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()),
                k.to_string(),
            )
        });
        for k in keys {
            let v = &map[k];
            if NOISE.contains(&k.as_str()) {
                continue;
            }
            let v = v.as_str().map(value).unwrap_or_else(|| v.to_string());
            let piece = format!("{k}={v}");
            if out.chars().count() + piece.chars().count() + 1 > room {
                out.push_str(" …");
                break;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&piece);
        }
    }
    out
}

/// Lines for a list of journal entries (`func`, `params`, `outcome`):
/// `label  func  params  outcome`, the label only on the first line.
pub fn calls(style: &Style, label: &str, entries: &[Value]) -> Vec<String> {
    let mut lines = Vec::new();
    if entries.is_empty() {
        lines.push(format!("  {label:<9} {}", style.dim("(none)")));
        return lines;
    }
    let width = entries
        .iter()
        .map(|e| e["func"].as_str().unwrap_or("").len())
        .max()
        .unwrap_or(0);
    for (i, e) in entries.iter().enumerate() {
        let func = e["func"].as_str().unwrap_or("?");
        let outcome = e["outcome"].as_str().unwrap_or("?");
        let shown_label = if i == 0 { label } else { "" };
        let room = LINE.saturating_sub(14 + width + outcome.len());
        let p = params(&e["params"], room);
        let outcome = if outcome == "ok" {
            style.good(outcome)
        } else {
            style.bad(outcome)
        };
        lines.push(format!(
            "  {shown_label:<9} {func:<width$}  {p}  {outcome}",
            width = width
        ));
    }
    lines
}

pub fn item_status_name(status: i32) -> &'static str {
    // Names of 1/4/5 are P-U7 guesses (src/vocab/item_status.rs holds them for the module).
    match status {
        1 => "ordered",
        2 => "active",
        3 => "suspended",
        4 => "deleted",
        5 => "processing",
        _ => "?",
    }
}

pub fn service_status_name(s: &str) -> &'static str {
    match s.trim() {
        "0" => "unknown",
        "1" => "ordered",
        "2" => "paid",
        "3" => "requested",
        "4" => "enrolled",
        "5" => "issued",
        "6" => "failed",
        _ => "?",
    }
}

/// The local state in three short lines.
pub fn state(item: u64, s: &ItemState) -> Vec<String> {
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let sub = s
        .service_status
        .as_deref()
        .map(|v| format!("{v} {}", service_status_name(v)))
        .unwrap_or_else(|| "-".into());
    let crt = match &s.crt {
        Some(c) => {
            let first = c.lines().next().unwrap_or_default().trim().to_string();
            let n = c.matches("-----BEGIN CERTIFICATE-----").count();
            format!("{first} ({n} in chain, {} bytes)", c.len())
        }
        None => "-".into(),
    };
    vec![
        format!(
            "  {:<9} item {item}: status {} {} | service_status {sub} | upstream id {}",
            "local",
            s.status,
            item_status_name(s.status),
            dash(&s.upstream_id),
        ),
        format!(
            "  {:<9} opened {} | expires {} | running operations {}{} | tasks {}",
            "",
            dash(&s.opendate),
            dash(&s.expiredate),
            s.running_ops,
            if s.ops_in_error > 0 {
                format!(" ({} with error)", s.ops_in_error)
            } else {
                String::new()
            },
            s.tasks
        ),
        format!("  {:<9} crt {crt}", ""),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_abbreviated() {
        assert_eq!(
            value("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"),
            "<certificate request PEM>"
        );
        assert_eq!(value(&"x".repeat(50)), "<50 chars>");
        assert_eq!(value("example.com"), "example.com");
        assert_eq!(value("a b"), "\"a b\"");
    }

    #[test]
    fn params_leave_out_noise_and_fit() {
        let p = json!({"authinfo":"u:***","out":"xml","a":"7","b":"example.com","elid":"3"});
        assert_eq!(params(&p, 100), "elid=3 a=7 b=example.com");
        assert_eq!(params(&p, 14), "elid=3 a=7 …");
    }
}
