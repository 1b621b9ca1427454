//! The processing module's connection settings: one table for `features`
//! (`params/param`), the descriptor form `processing.edit.pmsslreseller`, and
//! the reader of `processingparam`/`processingcryptedparam`
//! (module-protocol.md §7.1, §8.2, §9.3). A test checks the descriptor against
//! this table.

/// One setting of the integration form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleParam {
    /// Name in `features`, in the form, and in `processingparam.intname`.
    pub name: &'static str,
    /// Stored RSA-encrypted in `processingcryptedparam`.
    pub crypted: bool,
    /// The admin must fill it in.
    pub required: bool,
}

pub const URL: &str = "url";
pub const USERNAME: &str = "username";
pub const PASSWORD: &str = "password";
/// Checkbox: mirror suspend/resume to the upstream (off: local only).
pub const MIRROR_SUSPEND: &str = "mirror_suspend";

pub const MODULE_PARAMS: &[ModuleParam] = &[
    ModuleParam {
        name: URL,
        crypted: false,
        required: true,
    },
    ModuleParam {
        name: USERNAME,
        crypted: false,
        required: true,
    },
    ModuleParam {
        name: PASSWORD,
        crypted: true,
        required: true,
    },
    ModuleParam {
        name: MIRROR_SUSPEND,
        crypted: false,
        required: false,
    },
];

/// A checkbox value as BILLmanager stores it.
pub fn is_on(value: Option<&str>) -> bool {
    matches!(value, Some("on") | Some("yes") | Some("1") | Some("true"))
}
