//! Fault script (SIM-31): per-function faults applied to the next N matching API requests.
//! `--fault func:kind[:count[:delay_ms]]` at start, `POST /_sim/fault` / `DELETE /_sim/faults` at run time.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Sleep `delay_ms`, then act normally.
    Delay,
    /// HTTP 502 with an HTML body; nothing done.
    #[serde(rename = "http_502")]
    Http502,
    /// HTTP 503 with an HTML body; nothing done.
    #[serde(rename = "http_503")]
    Http503,
    /// The action is applied, the answer is cut after half its body (Content-Length promises more).
    Truncated,
    /// HTTP 200 `text/html` instead of XML; nothing done.
    NotXml,
    /// The action is applied and committed, then the connection is closed without an answer.
    DropAfterCommit,
    /// The connection is closed before anything is done.
    Refuse,
    /// A well-formed `<doc><error type=…>` with the given params; nothing done.
    Error,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Delay => "delay",
            FaultKind::Http502 => "http_502",
            FaultKind::Http503 => "http_503",
            FaultKind::Truncated => "truncated",
            FaultKind::NotXml => "not_xml",
            FaultKind::DropAfterCommit => "drop_after_commit",
            FaultKind::Refuse => "refuse",
            FaultKind::Error => "error",
        }
    }

    fn parse(s: &str) -> Option<FaultKind> {
        [
            FaultKind::Delay,
            FaultKind::Http502,
            FaultKind::Http503,
            FaultKind::Truncated,
            FaultKind::NotXml,
            FaultKind::DropAfterCommit,
            FaultKind::Refuse,
            FaultKind::Error,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

fn one() -> u32 {
    1
}

/// One scripted fault. `func` = `*` matches every function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    pub func: String,
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub error_params: BTreeMap<String, String>,
}

impl Fault {
    /// `func:kind[:count[:delay_ms]]`; for errors `func:error=TYPE[:count]`.
    pub fn parse_spec(spec: &str) -> Result<Fault, String> {
        let bad = || format!("--fault wants func:kind[:count[:delay_ms]], got {spec:?}");
        let mut parts = spec.split(':');
        let func = parts.next().filter(|f| !f.is_empty()).ok_or_else(bad)?;
        let kind_text = parts.next().ok_or_else(bad)?;
        let (kind_name, error_type) = match kind_text.split_once('=') {
            Some((k, t)) => (k, Some(t.to_string())),
            None => (kind_text, None),
        };
        let kind = FaultKind::parse(kind_name).ok_or_else(|| {
            format!("unknown fault kind {kind_name:?} (delay, http_502, http_503, truncated, not_xml, drop_after_commit, refuse, error)")
        })?;
        let count = match parts.next() {
            Some(c) => c.parse().map_err(|_| bad())?,
            None => 1,
        };
        let delay_ms = match parts.next() {
            Some(d) => d.parse().map_err(|_| bad())?,
            None => 0,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Fault {
            func: func.to_string(),
            kind,
            count,
            delay_ms,
            error_type,
            error_params: BTreeMap::new(),
        }
        .checked()
    }

    pub fn checked(self) -> Result<Fault, String> {
        if self.count == 0 {
            return Err("fault count must be at least 1".into());
        }
        if self.kind == FaultKind::Delay && self.delay_ms == 0 {
            return Err("a delay fault needs delay_ms > 0".into());
        }
        Ok(self)
    }
}

#[derive(Debug, Default)]
pub struct FaultScript {
    faults: Vec<Fault>,
}

impl FaultScript {
    pub fn add(&mut self, f: Fault) {
        self.faults.push(f);
    }

    pub fn clear(&mut self) {
        self.faults.clear();
    }

    pub fn list(&self) -> &[Fault] {
        &self.faults
    }

    /// Takes one use of the first fault matching `func` (exact, or `*`).
    pub fn take(&mut self, func: &str) -> Option<Fault> {
        let pos = self
            .faults
            .iter()
            .position(|f| f.func == func || f.func == "*")?;
        let f = &mut self.faults[pos];
        f.count -= 1;
        let taken = f.clone();
        if f.count == 0 {
            self.faults.remove(pos);
        }
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parsing_and_counting() {
        let f = Fault::parse_spec("certificate.order.param:delay:2:1500").unwrap();
        assert_eq!((f.kind, f.count, f.delay_ms), (FaultKind::Delay, 2, 1500));
        let e = Fault::parse_spec("whoami:error=not_enough_money").unwrap();
        assert_eq!(e.error_type.as_deref(), Some("not_enough_money"));
        assert!(Fault::parse_spec("whoami:boom").is_err());
        assert!(Fault::parse_spec("whoami:delay").is_err());
        let mut s = FaultScript::default();
        s.add(f);
        assert!(s.take("whoami").is_none());
        assert!(s.take("certificate.order.param").is_some());
        assert!(s.take("certificate.order.param").is_some());
        assert!(s.take("certificate.order.param").is_none());
    }
}
