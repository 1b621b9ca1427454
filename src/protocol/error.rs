//! `ModuleError`: every failure the module reports to BILLmanager.
//!
//! One [`ErrorKind`] per error `type` BILLmanager can show. Each kind has a
//! localized text `msg_error_<type>` in the descriptor (a test keeps them in
//! step), so an admin sees what went wrong and what to do. The error is printed
//! as error XML (module-protocol.md §11.1), written into the running operation
//! (§11.3), and the process exits with 1 (§11.2).

use super::xml::Elem;
use crate::secret::redact;

/// Error types we raise. `type_name` is what BILLmanager sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A bad value: argv option, item data, config value. `object` names it.
    Value,
    /// Something required is missing. `object` names it.
    Missed,
    /// The command is not implemented by this module.
    NotSupported,
    /// The upstream rejected the username or password.
    InvalidLogin,
    /// Could not connect to the upstream; nothing was sent.
    UpstreamUnreachable,
    /// TLS handshake or certificate verification with the upstream failed.
    UpstreamTls,
    /// The upstream did not answer in time; the request may have been applied.
    UpstreamTimeout,
    /// The upstream answered with something that is not a BILLmanager answer
    /// (HTTP error page, non-XML, truncated, oversized).
    UpstreamBadResponse,
    /// A money-moving request was sent but its result is unknown; the next run
    /// looks it up upstream before doing anything again.
    UpstreamOutcomeUnknown,
    /// The upstream account balance is too low.
    NotEnoughMoney,
    /// The upstream account may not do this (e.g. delete or suspend services).
    UpstreamAccess,
    /// Any other error the upstream reported.
    UpstreamError,
    /// Our configuration or the module settings are wrong.
    Config,
    /// The local BILLmanager (database or mgrctl) failed.
    Billing,
    /// The item belongs to another processing module.
    WrongModule,
    /// Another run is working on the same item right now.
    Locked,
    /// The upstream is still working on the certificate (its issuance, or a
    /// reissue before this one): nothing was sent, the operation is retried.
    Waiting,
    /// A previous attempt left a state that needs an admin's decision.
    ManualRequired,
    /// A bug: an internal invariant failed.
    Internal,
}

impl ErrorKind {
    /// Every kind, for the descriptor consistency test.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Value,
        ErrorKind::Missed,
        ErrorKind::NotSupported,
        ErrorKind::InvalidLogin,
        ErrorKind::UpstreamUnreachable,
        ErrorKind::UpstreamTls,
        ErrorKind::UpstreamTimeout,
        ErrorKind::UpstreamBadResponse,
        ErrorKind::UpstreamOutcomeUnknown,
        ErrorKind::NotEnoughMoney,
        ErrorKind::UpstreamAccess,
        ErrorKind::UpstreamError,
        ErrorKind::Config,
        ErrorKind::Billing,
        ErrorKind::WrongModule,
        ErrorKind::Locked,
        ErrorKind::Waiting,
        ErrorKind::ManualRequired,
        ErrorKind::Internal,
    ];

    /// The error `type` attribute; `msg_error_<type>` in the descriptor.
    pub fn type_name(self) -> &'static str {
        match self {
            ErrorKind::Value => "value",
            ErrorKind::Missed => "missed",
            ErrorKind::NotSupported => "not_supported",
            // Same type ISPsystem's modules use for check_connection (§11.1).
            ErrorKind::InvalidLogin => "invalid_login_or_passwd",
            ErrorKind::UpstreamUnreachable => "upstream_unreachable",
            ErrorKind::UpstreamTls => "upstream_tls",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
            ErrorKind::UpstreamBadResponse => "upstream_bad_response",
            ErrorKind::UpstreamOutcomeUnknown => "upstream_outcome_unknown",
            ErrorKind::NotEnoughMoney => "not_enough_money",
            ErrorKind::UpstreamAccess => "upstream_access",
            ErrorKind::UpstreamError => "upstream_error",
            ErrorKind::Config => "config",
            ErrorKind::Billing => "billing",
            ErrorKind::WrongModule => "wrong_module",
            ErrorKind::Locked => "locked",
            ErrorKind::Waiting => "waiting",
            ErrorKind::ManualRequired => "manual_required",
            ErrorKind::Internal => "internal",
        }
    }
}

/// The most of one text of an error (its message, object, each param) that
/// is shown: the net under any message that quotes a stored or received
/// value whole. The error XML goes to stdout and into the running operation
/// as ONE argv value of `mgrctl runningoperation.edit` (Linux caps one at
/// 128 KiB, `E2BIG`), and it must always get there: with three copies of
/// the message in that document, a few KB each leave ample room.
pub const MAX_SHOWN_CHARS: usize = 2000;

/// One text of an error as shown: secrets scrubbed, then cut to
/// [`MAX_SHOWN_CHARS`] with its length (`quote::shorten`) when longer.
fn shown(text: &str) -> String {
    let text = redact(text);
    if text.chars().count() <= MAX_SHOWN_CHARS {
        text
    } else {
        crate::quote::shorten(&text, MAX_SHOWN_CHARS)
    }
}

/// A failure, ready to be shown to BILLmanager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleError {
    pub kind: ErrorKind,
    /// What the error is about (an option, a field, an upstream function).
    pub object: Option<String>,
    /// Substitution values for the localized text (`__name__` in the descriptor).
    pub params: Vec<(String, String)>,
    /// English text for the log and the `<msg>` element: what happened and
    /// what the admin should do.
    pub message: String,
}

pub type Result<T, E = ModuleError> = std::result::Result<T, E>;

impl ModuleError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ModuleError {
        ModuleError {
            kind,
            object: None,
            params: Vec::new(),
            message: message.into(),
        }
    }

    pub fn with_object(mut self, object: impl Into<String>) -> ModuleError {
        self.object = Some(object.into());
        self
    }

    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<String>) -> ModuleError {
        self.params.push((name.into(), value.into()));
        self
    }

    /// A bad value of `object`.
    pub fn value(object: impl Into<String>, message: impl Into<String>) -> ModuleError {
        ModuleError::new(ErrorKind::Value, message).with_object(object)
    }

    /// A missing `object`.
    pub fn missed(object: impl Into<String>, message: impl Into<String>) -> ModuleError {
        ModuleError::new(ErrorKind::Missed, message).with_object(object)
    }

    pub fn not_supported(command: &str) -> ModuleError {
        ModuleError::new(
            ErrorKind::NotSupported,
            format!("command '{command}' is not supported by pmsslreseller"),
        )
        .with_object(command.to_string())
    }

    pub fn internal(message: impl Into<String>) -> ModuleError {
        ModuleError::new(ErrorKind::Internal, message)
    }

    /// The `<error>` element (secrets scrubbed, every text bounded).
    pub fn error_elem(&self) -> Elem {
        let mut e = Elem::new("error").attr("type", self.kind.type_name());
        if let Some(o) = &self.object {
            e = e.attr("object", shown(o));
        }
        e = e.attr("lang", "en");
        for (k, v) in &self.params {
            e = e.child(Elem::new("param").attr("name", shown(k)).text(shown(v)));
        }
        e.leaf("msg", shown(&self.message))
    }

    /// The error document printed on stdout (module-protocol.md §11.1).
    pub fn to_document(&self) -> String {
        Elem::doc().child(self.error_elem()).to_document()
    }

    /// The document stored in the running operation with
    /// `runningoperation.edit errorxml=…` (module-protocol.md §11.3, shape of
    /// ISPsystem's `ModuleError`): the error inside `<processingmodule>` and
    /// again at top level.
    pub fn running_operation_xml(&self, module_id: Option<u64>, now: &str) -> String {
        let mut pm = Elem::new("processingmodule")
            .attr("date", now)
            .attr("name", crate::vocab::MODULE_NAME);
        if let Some(id) = module_id {
            pm = pm.attr("id", id.to_string());
        }
        let inner = self.error_elem().attr("date", now);
        let pm = pm.child(
            inner
                .clone()
                .child(Elem::new("log").text(shown(&self.message))),
        );
        Elem::doc().child(pm).child(inner).to_compact()
    }

    /// The process exit code after this error.
    pub fn exit_code(&self) -> i32 {
        1
    }
}

impl std::fmt::Display for ModuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind.type_name())?;
        if let Some(o) = &self.object {
            write!(f, " ({})", shown(o))?;
        }
        write!(f, ": {}", shown(&self.message))
    }
}

impl std::error::Error for ModuleError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_document_shape() {
        let e = ModuleError::new(ErrorKind::NotEnoughMoney, "top up")
            .with_object("certificate.order.param")
            .with_param("amount", "21.00");
        let d = e.to_document();
        assert!(d.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc>"));
        assert!(d.contains(
            "<error type=\"not_enough_money\" object=\"certificate.order.param\" lang=\"en\">"
        ));
        assert!(d.contains("<param name=\"amount\">21.00</param>"));
        assert!(d.contains("<msg>top up</msg>"));
    }

    #[test]
    fn type_names_unique() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.type_name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn every_text_is_bounded_with_its_length() {
        let big = "V".repeat(5 * 1024 * 1024);
        let e = ModuleError::value(big.clone(), format!("bad: {big}")).with_param("value", &big);
        let doc = e.to_document();
        assert!(doc.len() < 4 * MAX_SHOWN_CHARS, "{}", doc.len());
        assert!(
            doc.contains(&format!("({} bytes)", big.len())),
            "the length is kept"
        );
        let ro = e.running_operation_xml(Some(1), "2026-01-01 10:00:00");
        assert!(ro.len() < 16 * 1024, "one argv value: {}", ro.len());
        assert!(e.to_string().len() < 3 * MAX_SHOWN_CHARS);
        // A message within the bound is shown as it is, newlines included.
        let small = ModuleError::new(ErrorKind::Billing, "line 1\nline 2");
        assert!(small.to_document().contains("line 1\nline 2"));
    }

    #[test]
    fn running_operation_xml_is_one_line() {
        let e = ModuleError::missed("csr", "the item has no CSR");
        let x = e.running_operation_xml(Some(3), "2026-01-01 10:00:00");
        assert!(!x.contains('\n'));
        assert!(x.starts_with("<doc><processingmodule date=\"2026-01-01 10:00:00\" name=\"pmsslreseller\" id=\"3\"><error type=\"missed\""));
    }
}
