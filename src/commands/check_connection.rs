//! `--command check_connection`: validate the integration settings when an
//! admin adds or edits the processing module (module-protocol.md §6.3).
//!
//! Reads the settings from stdin, logs in upstream with `whoami` and logs the
//! balance. Success prints `<doc/>` like ISPsystem's base class; a failure is
//! the error XML of the matching kind (`invalid_login_or_passwd`,
//! `upstream_unreachable`, `upstream_tls`, …), whose text tells the admin what
//! to fix.

use crate::protocol::error::{ModuleError, Result};
use crate::protocol::settings::{PASSWORD, URL, USERNAME};
use crate::protocol::xml::Elem;
use crate::secret::Secret;
use crate::upstream::parse::{parse_tree, Node};
use crate::upstream::{Client, Connection};

use super::Ctx;

/// Where the settings sit in the stdin document. module-protocol.md §6.3 says
/// `<doc><processingmodule><PARAM>…</PARAM></processingmodule></doc>`; no real
/// capture is public, so the params are also accepted as direct children of
/// `<doc>` (guess kept in this one function, module-protocol.md §6.3).
fn settings_element(doc: &Node) -> &Node {
    doc.child("processingmodule").unwrap_or(doc)
}

/// The connection settings from what BILLmanager wrote on stdin.
pub fn connection_from_stdin(input: &str) -> Result<Connection> {
    if input.trim().is_empty() {
        return Err(ModuleError::missed(
            "stdin",
            "check_connection got no settings on stdin; BILLmanager passes them as XML",
        ));
    }
    // The parser's complaint is not passed on: it quotes the input, which
    // holds the password before it is known to the redaction.
    let doc = parse_tree(input).map_err(|_| {
        ModuleError::value(
            "stdin",
            format!(
                "check_connection input is not valid XML ({} bytes, not shown: they hold the module's \
                 password); BILLmanager passes the module settings as \
                 <doc><processingmodule>…</processingmodule></doc>",
                input.len()
            ),
        )
    })?;
    if doc.name != "doc" {
        return Err(ModuleError::value(
            "stdin",
            format!(
                "check_connection input has root <{}>, expected <doc>",
                crate::quote::shorten(&doc.name, 40)
            ),
        ));
    }
    let settings = settings_element(&doc);
    let field = |name: &str| -> Result<String> {
        // The password is taken verbatim: spaces may be part of it.
        let raw = settings.child(name).map(|n| n.text.as_str()).unwrap_or("");
        let value = if name == PASSWORD { raw } else { raw.trim() };
        if value.trim().is_empty() {
            return Err(ModuleError::missed(
                name,
                format!("the processing module setting '{name}' is empty: fill it in"),
            ));
        }
        Ok(value.to_string())
    };
    let url = field(URL)?;
    let username = field(USERNAME)?;
    let password = Secret::new(field(PASSWORD)?);
    Ok(Connection {
        url,
        username,
        password,
    })
}

/// The saved module's id and name, when the stdin document carries them
/// (module-protocol.md §6.3 shows `<id>`; a module being added has none).
pub fn module_from_stdin(input: &str) -> Option<(u64, String)> {
    let doc = parse_tree(input).ok()?;
    let settings = settings_element(&doc);
    let id = settings.child_text("id")?.trim().parse::<u64>().ok()?;
    let name = settings
        .child_text("name")
        .map(|n| n.trim().to_string())
        .unwrap_or_default();
    Some((id, name))
}

pub fn run(ctx: &Ctx) -> Result<Option<String>> {
    let input = crate::protocol::read_stdin().map_err(|e| {
        ModuleError::value("stdin", format!("cannot read the settings from stdin: {e}"))
    })?;
    let conn = connection_from_stdin(&input)?;
    if conn.password.is_short() {
        log::warn!(
            "the upstream password entered {}",
            crate::secret::SHORT_PASSWORD_ADVICE
        );
    }
    let client = Client::new(&conn, &ctx.config.upstream)?;
    log::info!(
        "checking upstream {} as {}",
        client.endpoint(),
        conn.username
    );
    let account = client.whoami()?;
    log::info!(
        "upstream login ok: account '{}', balance {} {}",
        account.name,
        account.balance,
        account.currency.as_deref().unwrap_or("")
    );
    // A saved module's balance is a reading for the charge check (a module
    // being added has no id yet: nothing to keep it under).
    if let Some((id, name)) = module_from_stdin(&input) {
        super::charges::observe(
            &ctx.root,
            &ctx.config,
            &crate::billing::Mgrctl::configured(&ctx.root, &ctx.config),
            &super::charges::BalanceRead {
                module: super::credential_health::ModuleRef { id, name },
                client: &client,
                username: &conn.username,
                account: &account,
                source: crate::books::readings::Source::CheckConnection,
            },
        );
    }
    Ok(Some(Elem::doc().to_document()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorKind;

    #[test]
    fn documented_shape() {
        let c = connection_from_stdin(
            "<?xml version=\"1.0\"?>\n<doc><processingmodule><id>3</id><url> https://h.example/billmgr </url>\
             <username>r@example.com</username><password> p w </password><mirror_suspend>on</mirror_suspend>\
             </processingmodule></doc>",
        )
        .unwrap();
        assert_eq!(c.url, "https://h.example/billmgr");
        assert_eq!(c.username, "r@example.com");
        assert_eq!(c.password.expose(), " p w ");
    }

    #[test]
    fn flat_shape_accepted() {
        let c = connection_from_stdin(
            "<doc><url>h.example</url><username>u</username><password>p&amp;1</password></doc>",
        )
        .unwrap();
        assert_eq!(c.password.expose(), "p&1");
    }

    #[test]
    fn missing_fields_are_missed_with_object() {
        for (xml, field) in [
            ("<doc><processingmodule><username>u</username><password>p</password></processingmodule></doc>", "url"),
            ("<doc><processingmodule><url>h</url><password>p</password></processingmodule></doc>", "username"),
            ("<doc><processingmodule><url>h</url><username>u</username><password></password></processingmodule></doc>", "password"),
            ("<doc><processingmodule><url>h</url><username>u</username><password>  </password></processingmodule></doc>", "password"),
        ] {
            let e = connection_from_stdin(xml).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Missed, "{xml}");
            assert_eq!(e.object.as_deref(), Some(field), "{xml}");
        }
    }

    #[test]
    fn bad_input() {
        assert_eq!(
            connection_from_stdin("").unwrap_err().kind,
            ErrorKind::Missed
        );
        assert_eq!(
            connection_from_stdin("<doc><url>").unwrap_err().kind,
            ErrorKind::Value
        );
        assert_eq!(
            connection_from_stdin("url=x").unwrap_err().kind,
            ErrorKind::Value
        );
        assert_eq!(
            connection_from_stdin("<x/>").unwrap_err().kind,
            ErrorKind::Value
        );
    }
}
