//! The answer to `--command features` (module-protocol.md §7).
//!
//! BILLmanager caches it at start-up, so it must be cheap and identical between
//! runs: no network, no database. Features are derived from the one command
//! vocabulary (`args::Verb`) that dispatch uses too, so we never advertise
//! what we cannot do.

use super::settings::MODULE_PARAMS;
use super::xml::Elem;

/// The product type we serve, also declared in the descriptor `<plugin>`.
pub const ITEMTYPE: &str = "certificate";

/// Build the features document. `templates` are the certificate templates
/// (`<template …/>` elements, serialised by `xml::empty_element`) from the
/// cached upstream catalog.
pub fn document(features: &[&str], templates: Vec<String>) -> String {
    let itemtypes = Elem::new("itemtypes").child(Elem::new("itemtype").attr("name", ITEMTYPE));
    let mut params = Elem::new("params");
    for p in MODULE_PARAMS {
        let mut e = Elem::new("param").attr("name", p.name);
        if p.crypted {
            e = e.attr("crypted", "yes");
        }
        params.push(e);
    }
    let mut feats = Elem::new("features");
    for f in features {
        feats.push(Elem::new("feature").attr("name", *f));
    }
    let mut doc = Elem::doc().child(itemtypes).child(params).child(feats);
    if !templates.is_empty() {
        let mut t = Elem::new("templates");
        for e in templates {
            t.push_raw(e);
        }
        doc.push(t);
    }
    doc.to_document()
}
