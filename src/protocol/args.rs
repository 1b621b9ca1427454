//! BILLmanager's command line, parsed into a typed [`Command`].
//!
//! `--key value` pairs with the value in the next element (module-protocol.md
//! §6.1), `--key=value` accepted too, the short forms of ISPsystem's parser,
//! `--param X --value Y` pairs. Unknown options are kept and logged, never
//! fatal: BILLmanager versions add arguments over time. Numbers are validated
//! here, so a bad one is a clear `value` error, not a panic later.

use super::error::{ModuleError, Result};

/// Raw options as BILLmanager passed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    pub command: Option<String>,
    pub subcommand: Option<String>,
    pub item: Option<u64>,
    pub module: Option<u64>,
    pub runningoperation: Option<u64>,
    pub id: Option<u64>,
    pub level: Option<u64>,
    pub addon: Option<u64>,
    pub userid: Option<u64>,
    pub itemtype: Option<String>,
    pub intname: Option<String>,
    pub lang: Option<String>,
    pub domain: Option<String>,
    pub emails: Option<String>,
    pub tld: Option<String>,
    pub searchstring: Option<String>,
    /// `--param NAME --value VALUE` pairs, in order.
    pub params: Vec<(String, String)>,
    /// Options we do not know, as `name` or `name=value`; logged, never fatal.
    pub unknown: Vec<String>,
}

/// Long name for each short option of ISPsystem's parser (L-MOD).
fn long_name(short: &str) -> Option<&'static str> {
    Some(match short {
        "c" => "command",
        "i" => "item",
        "l" => "lang",
        "m" => "module",
        "t" => "itemtype",
        "a" => "addon",
        _ => return None,
    })
}

fn parse_number(option: &str, value: &str) -> Result<u64> {
    value.trim().parse::<u64>().map_err(|_| {
        ModuleError::value(
            option.to_string(),
            format!(
                "--{option} must be a non-negative whole number, got '{}'",
                crate::quote::quote(value)
            ),
        )
        .with_param("value", crate::quote::quote(value))
    })
}

impl Args {
    /// Parse argv without the program name.
    pub fn parse<I, S>(argv: I) -> Result<Args>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
        let mut a = Args::default();
        let mut pending_param: Option<String> = None;
        let mut i = 0;
        while i < argv.len() {
            let raw = &argv[i];
            i += 1;
            let (name, inline) = if let Some(rest) = raw.strip_prefix("--") {
                match rest.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (rest.to_string(), None),
                }
            } else if let Some(rest) = raw.strip_prefix('-').filter(|r| !r.is_empty()) {
                match long_name(rest) {
                    Some(n) => (n.to_string(), None),
                    None => {
                        a.unknown.push(raw.clone());
                        continue;
                    }
                }
            } else {
                // A stray positional value: keep it for the log.
                a.unknown.push(raw.clone());
                continue;
            };
            // The value is inline or the next element, unless that is another option.
            let value = match inline {
                Some(v) => Some(v),
                None => match argv.get(i) {
                    Some(next) if !next.starts_with("--") => {
                        i += 1;
                        Some(next.clone())
                    }
                    _ => None,
                },
            };
            let known = a.set(&name, value.as_deref(), &mut pending_param)?;
            if !known {
                a.unknown.push(match &value {
                    Some(v) => format!("{name}={v}"),
                    None => name,
                });
            }
        }
        if let Some(p) = pending_param {
            a.params.push((p, String::new()));
        }
        Ok(a)
    }

    /// Apply one option; `false` when the name is unknown.
    fn set(
        &mut self,
        name: &str,
        value: Option<&str>,
        pending_param: &mut Option<String>,
    ) -> Result<bool> {
        let text = || -> Result<String> {
            value.map(str::to_string).ok_or_else(|| {
                ModuleError::missed(name.to_string(), format!("option --{name} needs a value"))
            })
        };
        let number = || -> Result<u64> {
            match value {
                Some(v) => parse_number(name, v),
                None => Err(ModuleError::missed(
                    name.to_string(),
                    format!("option --{name} needs a value"),
                )),
            }
        };
        match name {
            "command" => self.command = Some(text()?),
            "subcommand" => self.subcommand = Some(text()?),
            "item" => self.item = Some(number()?),
            "module" => self.module = Some(number()?),
            "runningoperation" => self.runningoperation = Some(number()?),
            "id" => self.id = Some(number()?),
            "level" => self.level = Some(number()?),
            "addon" => self.addon = Some(number()?),
            "userid" => self.userid = Some(number()?),
            "itemtype" => self.itemtype = Some(text()?),
            "intname" => self.intname = Some(text()?),
            "lang" => self.lang = Some(text()?),
            "domain" => self.domain = Some(text()?),
            "emails" => self.emails = Some(text()?),
            "tld" => self.tld = Some(text()?),
            "searchstring" => self.searchstring = Some(value.unwrap_or_default().to_string()),
            "param" => {
                if let Some(prev) = pending_param.take() {
                    self.params.push((prev, String::new()));
                }
                *pending_param = Some(text()?);
            }
            "value" => {
                let v = value.unwrap_or_default().to_string();
                match pending_param.take() {
                    Some(p) => self.params.push((p, v)),
                    None => return Ok(false),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn require_item(&self, command: &str) -> Result<u64> {
        self.item.ok_or_else(|| {
            ModuleError::missed(
                "item",
                format!("command {command} needs --item <service id>"),
            )
        })
    }

    fn require_module(&self, command: &str) -> Result<u64> {
        self.module.ok_or_else(|| {
            ModuleError::missed(
                "module",
                format!("command {command} needs --module <processing module id>"),
            )
        })
    }
}

/// Service operations BILLmanager runs through a running operation
/// (module-protocol.md §5, §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceOp {
    Open,
    SyncItem,
    Prolong,
    Reopen,
    Suspend,
    Resume,
    Close,
    /// The service's parameters changed (module-protocol.md §6.3).
    SetParam,
    /// The customer's "send the validation e-mail (again)", with `--emails`
    /// (field-2026-12 §8).
    SendDvEmail,
    /// The customer's "check the DNS record again", with `--domain`
    /// (field-2026-12 §8).
    SendDvDns,
}

impl ServiceOp {
    pub const ALL: &'static [ServiceOp] = &[
        ServiceOp::Open,
        ServiceOp::SyncItem,
        ServiceOp::Prolong,
        ServiceOp::Reopen,
        ServiceOp::Suspend,
        ServiceOp::Resume,
        ServiceOp::Close,
        ServiceOp::SetParam,
        ServiceOp::SendDvEmail,
        ServiceOp::SendDvDns,
    ];

    /// The `--command` value and feature name.
    pub fn name(self) -> &'static str {
        match self {
            ServiceOp::Open => "open",
            ServiceOp::SyncItem => "sync_item",
            ServiceOp::Prolong => "prolong",
            ServiceOp::Reopen => "reopen",
            ServiceOp::Suspend => "suspend",
            ServiceOp::Resume => "resume",
            ServiceOp::Close => "close",
            ServiceOp::SetParam => "setparam",
            ServiceOp::SendDvEmail => "send_dv_email",
            ServiceOp::SendDvDns => "send_dv_dns",
        }
    }

    /// Commands ISPsystem's base class skips in maintenance mode
    /// (module-protocol.md §4); `setparam` is not among them, nor the
    /// customer's validation actions, which nobody reruns: they refuse
    /// instead (lifecycle/send_dv.rs).
    pub fn paused_by_maintenance(self) -> bool {
        !matches!(
            self,
            ServiceOp::SetParam | ServiceOp::SendDvEmail | ServiceOp::SendDvDns
        )
    }
}

/// Whether `features` lists a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advertised {
    /// Listed in every `features` answer.
    Always,
    /// Listed only when the config asks for it: the answer format is a guess
    /// (`import_pricelist`, P-U2, module-protocol.md §18). It still answers
    /// when called.
    WhenConfigured,
    /// Listed only when `[validation] dns_check_func` names the upstream
    /// function it needs (`send_dv_dns`: none is public, upstream-api.md §3.7).
    WithDnsCheckFunc,
    /// Not a feature (`features` itself).
    Never,
}

/// Every command this build answers: the one vocabulary that parsing
/// ([`Command::from_args`]), dispatch (`commands::execute`), `features` and
/// the `not_supported` answer derive from. A name here is a promise: a
/// command not listed answers `not_supported`, and no variant exists only
/// to be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Features,
    CheckConnection,
    Approver,
    ImportPricelist,
    GetBalance,
    /// Service import: link upstream certificates to new local services
    /// (module-protocol.md §10.6).
    ImportService,
    Service(ServiceOp),
}

impl Verb {
    /// In the order `features` lists them.
    pub const ALL: &'static [Verb] = &[
        Verb::Features,
        Verb::CheckConnection,
        Verb::Approver,
        Verb::GetBalance,
        Verb::ImportService,
        Verb::Service(ServiceOp::Open),
        Verb::Service(ServiceOp::SyncItem),
        Verb::Service(ServiceOp::Prolong),
        Verb::Service(ServiceOp::Reopen),
        Verb::Service(ServiceOp::Suspend),
        Verb::Service(ServiceOp::Resume),
        Verb::Service(ServiceOp::Close),
        Verb::Service(ServiceOp::SetParam),
        Verb::Service(ServiceOp::SendDvEmail),
        Verb::Service(ServiceOp::SendDvDns),
        Verb::ImportPricelist,
    ];

    /// The `--command` value and feature name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Features => "features",
            Verb::CheckConnection => "check_connection",
            Verb::Approver => "approver",
            Verb::ImportPricelist => "import_pricelist",
            Verb::GetBalance => "getbalance",
            Verb::ImportService => "import",
            Verb::Service(op) => op.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Verb> {
        Verb::ALL.iter().copied().find(|v| v.name() == name)
    }

    pub fn advertised(self) -> Advertised {
        match self {
            Verb::Features => Advertised::Never,
            Verb::ImportPricelist => Advertised::WhenConfigured,
            Verb::Service(ServiceOp::SendDvDns) => Advertised::WithDnsCheckFunc,
            Verb::CheckConnection
            | Verb::Approver
            | Verb::GetBalance
            | Verb::ImportService
            | Verb::Service(_) => Advertised::Always,
        }
    }
}

/// What BILLmanager asks us to do, with the arguments each command needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Features,
    CheckConnection,
    /// Approver e-mails for domains (`--domain` may be a comma-separated list).
    Approver {
        module: Option<u64>,
        domains: Vec<String>,
        intname: Option<String>,
    },
    /// Tariff import (module-protocol.md §14; format unconfirmed, P-U2).
    ImportPricelist {
        module: u64,
        subcommand: String,
        id: Option<u64>,
    },
    /// Report the upstream balance of one module, or of every active one
    /// (evidence-2026-12 "getbalance").
    GetBalance {
        module: Option<u64>,
    },
    /// Service import (module-protocol.md §6.3 `import`, §10.6).
    ImportService {
        module: u64,
        itemtype: Option<String>,
        searchstring: Option<String>,
    },
    Service {
        op: ServiceOp,
        item: u64,
        runningoperation: Option<u64>,
    },
}

impl Command {
    /// The command and its arguments; a command we do not answer is
    /// `not_supported` (module-protocol.md §6.3; a design choice).
    pub fn from_args(a: &Args) -> Result<Command> {
        let name = a.command.as_deref().ok_or_else(|| {
            ModuleError::missed(
                "command",
                "no --command given; BILLmanager always passes one",
            )
        })?;
        let verb = Verb::from_name(name).ok_or_else(|| ModuleError::not_supported(name))?;
        Ok(match verb {
            Verb::Features => Command::Features,
            Verb::CheckConnection => Command::CheckConnection,
            Verb::Approver => Command::Approver {
                module: a.module,
                domains: a
                    .domain
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .map(|d| d.trim().to_string())
                    .filter(|d| !d.is_empty())
                    .collect(),
                intname: a.intname.clone(),
            },
            Verb::ImportPricelist => Command::ImportPricelist {
                module: a.require_module(name)?,
                subcommand: a.subcommand.clone().ok_or_else(|| {
                    ModuleError::missed("subcommand", "import_pricelist needs --subcommand")
                })?,
                id: a.id,
            },
            Verb::GetBalance => Command::GetBalance { module: a.module },
            Verb::ImportService => Command::ImportService {
                module: a.require_module(name)?,
                itemtype: a.itemtype.clone(),
                searchstring: a.searchstring.clone(),
            },
            Verb::Service(op) => Command::Service {
                op,
                item: a.require_item(name)?,
                runningoperation: a.runningoperation,
            },
        })
    }

    pub fn verb(&self) -> Verb {
        match self {
            Command::Features => Verb::Features,
            Command::CheckConnection => Verb::CheckConnection,
            Command::Approver { .. } => Verb::Approver,
            Command::ImportPricelist { .. } => Verb::ImportPricelist,
            Command::GetBalance { .. } => Verb::GetBalance,
            Command::ImportService { .. } => Verb::ImportService,
            Command::Service { op, .. } => Verb::Service(*op),
        }
    }

    /// The command name, for logs.
    pub fn name(&self) -> &'static str {
        self.verb().name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[&str]) -> Result<Args> {
        Args::parse(s.iter().map(|x| x.to_string()))
    }

    #[test]
    fn billmanager_style() {
        let a = parse(&[
            "--command",
            "open",
            "--item",
            "42",
            "--runningoperation",
            "7",
            "--lang",
            "ru",
        ])
        .unwrap();
        assert_eq!(
            Command::from_args(&a).unwrap(),
            Command::Service {
                op: ServiceOp::Open,
                item: 42,
                runningoperation: Some(7)
            }
        );
        assert_eq!(a.lang.as_deref(), Some("ru"));
    }

    #[test]
    fn equals_form_and_short_options() {
        let a = parse(&["-c", "sync_item", "--item=5", "-m", "3"]).unwrap();
        assert_eq!(a.command.as_deref(), Some("sync_item"));
        assert_eq!(a.item, Some(5));
        assert_eq!(a.module, Some(3));
    }

    #[test]
    fn unknown_options_tolerated() {
        let a = parse(&[
            "--command",
            "features",
            "--newthing",
            "x",
            "--flag",
            "--other=1",
        ])
        .unwrap();
        assert_eq!(Command::from_args(&a).unwrap(), Command::Features);
        assert_eq!(a.unknown, vec!["newthing=x", "flag", "other=1"]);
    }

    #[test]
    fn bad_number_is_value_error() {
        let e = parse(&["--command", "open", "--item", "4x2"]).unwrap_err();
        assert_eq!(e.kind.type_name(), "value");
        assert_eq!(e.object.as_deref(), Some("item"));
        let e = parse(&["--command", "open", "--item", "-1"]).unwrap_err();
        assert_eq!(e.object.as_deref(), Some("item"));
    }

    #[test]
    fn missing_item_is_missed() {
        let a = parse(&["--command", "close"]).unwrap();
        let e = Command::from_args(&a).unwrap_err();
        assert_eq!(e.kind.type_name(), "missed");
        assert_eq!(e.object.as_deref(), Some("item"));
    }

    #[test]
    fn param_value_pairs() {
        let a = parse(&[
            "--command",
            "check_param",
            "--param",
            "CN",
            "--value",
            "a b=c",
        ])
        .unwrap();
        assert_eq!(a.params, vec![("CN".to_string(), "a b=c".to_string())]);
    }

    #[test]
    fn approver_domains_split() {
        let a = parse(&[
            "--command",
            "approver",
            "--module",
            "1",
            "--domain",
            "a.example.com, b.example.org",
            "--intname",
            "ssl_3033",
        ])
        .unwrap();
        match Command::from_args(&a).unwrap() {
            Command::Approver { domains, .. } => {
                assert_eq!(domains, vec!["a.example.com", "b.example.org"])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_command_is_not_supported() {
        let a = parse(&["--command", "reboot", "--item", "1"]).unwrap();
        let e = Command::from_args(&a).unwrap_err();
        assert_eq!(e.kind.type_name(), "not_supported");
        assert_eq!(e.object.as_deref(), Some("reboot"));
    }

    #[test]
    fn every_verb_parses_back_from_its_name() {
        for v in Verb::ALL {
            assert_eq!(Verb::from_name(v.name()), Some(*v));
        }
        for op in ServiceOp::ALL {
            assert!(Verb::ALL.contains(&Verb::Service(*op)), "{op:?}");
        }
    }

    #[test]
    fn missing_value_at_end() {
        let e = parse(&["--command"]).unwrap_err();
        assert_eq!(e.kind.type_name(), "missed");
    }
}
