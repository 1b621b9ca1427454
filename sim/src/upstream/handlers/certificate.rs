//! Certificate functions of a client: list (SIM-23), view/edit (SIM-24), reissue (SIM-25), delete with
//! refund (SIM-26, SIM-13), suspend/resume (SIM-28), CSR generation (SIM-30).

use super::order::{altnames, approver_emails, check_csr, check_name};
use super::shapes::{push_num, write_date, Shapes};
use super::{ok_doc, ApiError, Call};
use crate::upstream::certs;
use crate::upstream::knobs::{Knobs, RefundPolicy};
use crate::upstream::sim::Sim;
use crate::upstream::state::{Item, PendingKind};
use crate::upstream::xml::{write_field, Node};
use rust_decimal::Decimal;
use std::collections::HashMap;

/// The list (SIM-23). Rows are written as XML text under the simulator lock: an element tree of
/// 10,000 rows took ~80 ms to build and held every other client up meanwhile. Field shapes by
/// knob (shapes.rs); paged (field-2026-12 §5) by `p_cnt`/`p_num` and knobs `list_page_default`,
/// `list_page_max`, `list_p_num`, `list_p_elems`, in the order of the ids, after the `remoteid`
/// filter.
pub fn list(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let knobs = &sim.world.knobs;
    let with_remoteid = knobs.on("list_remoteid");
    let status_column = knobs.on("status_column");
    let list_deleted = knobs.on("list_deleted");
    let shapes = Shapes::new(knobs);
    let needs_name = shapes.needs_plan_name(false);
    let page = Page::new(knobs, call);
    let remoteid_filter = if with_remoteid {
        call.get("remoteid")
    } else {
        None
    };
    // Plan names and prices repeat across thousands of rows; the catalogue lookup is linear.
    let mut plan_names: HashMap<u64, String> = HashMap::new();
    let mut costs: HashMap<(Decimal, &str, i32), String> = HashMap::new();
    let mut rows = String::new();
    let mut total = 0usize;
    for item in sim.world.items.values() {
        if item.account != user || (item.deleted && !list_deleted) {
            continue;
        }
        if remoteid_filter.is_some() && item.remoteid.as_deref() != remoteid_filter {
            continue;
        }
        total += 1;
        if !page.holds(total - 1) {
            continue;
        }
        let plan_name: &str = if needs_name {
            plan_names.entry(item.pricelist).or_insert_with(|| {
                sim.catalog
                    .plan(item.pricelist)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| item.pricelist.to_string())
            })
        } else {
            ""
        };
        let cost = costs
            .entry((item.cost, item.currency.as_str(), item.period))
            .or_insert_with(|| shapes.cost_xml(item.cost, &item.currency, item.period));
        rows.push_str("<elem><id>");
        push_num(&mut rows, item.id, 0);
        rows.push_str("</id>");
        write_field(&mut rows, "CN", &item.cn);
        shapes.write_pricelist(&mut rows, plan_name, item.pricelist, false);
        rows.push_str("<createdate>");
        write_date(&mut rows, Some(item.createdate));
        rows.push_str("</createdate>");
        shapes.write_expiry(&mut rows, item.expiredate);
        write_field(&mut rows, "status_msg", &item.status_msg);
        shapes.write_status(&mut rows, item);
        rows.push_str(cost);
        if status_column {
            rows.push_str("<status>");
            push_num(&mut rows, u64::from(item.status), 0);
            rows.push_str("</status>");
        }
        if with_remoteid {
            write_field(
                &mut rows,
                "remoteid",
                item.remoteid.as_deref().unwrap_or_default(),
            );
        }
        rows.push_str("</elem>");
    }
    page.write_counts(&mut rows, total);
    let mut doc = Node::new("doc");
    if !rows.is_empty() {
        doc.push_raw(rows);
    }
    Ok(doc)
}

/// Which rows of the list are sent (field-2026-12 §5, FS 68455228345).
struct Page {
    /// Rows per page; `None` = everything.
    size: Option<usize>,
    /// 1-based.
    num: usize,
    /// Send `<p_elems>`, `<p_num>`, `<p_cnt>`.
    counts: bool,
}

impl Page {
    fn new(knobs: &Knobs, call: &Call) -> Page {
        let number = |name: &str| {
            call.get(name)
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
        };
        let as_size = |n: u64| usize::try_from(n).ok().filter(|n| *n > 0);
        let max = as_size(knobs.number("list_page_max"));
        let size = match number("p_cnt") {
            Some(asked) => Some(max.map_or(asked, |m| asked.min(m))),
            None => as_size(knobs.number("list_page_default")),
        };
        let num = if knobs.get("list_p_num") == "ignored" {
            1
        } else {
            number("p_num").unwrap_or(1)
        };
        Page {
            size,
            num: if size.is_some() { num } else { 1 },
            counts: size.is_some() || knobs.on("list_p_elems"),
        }
    }

    /// Whether row `index` (0-based, after the filter) is on the page.
    fn holds(&self, index: usize) -> bool {
        match self.size {
            None => true,
            Some(size) => index / size + 1 == self.num,
        }
    }

    /// `<p_elems>TOTAL</p_elems><p_num>N</p_num><p_cnt>SIZE</p_cnt>` when they are sent; without
    /// paging the one page holds everything.
    fn write_counts(&self, out: &mut String, total: usize) {
        if !self.counts {
            return;
        }
        for (name, n) in [
            ("p_elems", total),
            ("p_num", self.num),
            ("p_cnt", self.size.unwrap_or(total)),
        ] {
            out.push('<');
            out.push_str(name);
            out.push('>');
            push_num(out, n as u64, 0);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
}

fn own<'a>(sim: &'a mut Sim, user: &str, id: u64) -> Result<&'a mut Item, ApiError> {
    sim.world
        .own_item_mut(user, id)
        .ok_or_else(|| ApiError::missed("elid"))
}

pub fn edit(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let id = call.elid()?;
    if call.is_ok("sok") {
        let remoteid = call.params.get("remoteid").cloned();
        if let Some(r) = &remoteid {
            let unique = sim.world.knobs.on("remoteid_unique");
            if unique
                && !r.is_empty()
                && sim
                    .world
                    .items
                    .values()
                    .any(|i| i.id != id && !i.deleted && i.remoteid.as_deref() == Some(r))
            {
                let mut e = ApiError::new("exists", format!("remoteid '{r}' is already in use"));
                e.object = Some("remoteid".into());
                return Err(e);
            }
        }
        let item = own(sim, &user, id)?;
        if let Some(r) = remoteid {
            item.remoteid = (!r.is_empty()).then_some(r);
        }
        return Ok(ok_doc(sim));
    }
    let show_remoteid = sim.world.knobs.on("edit_remoteid");
    let knobs_validation_view = sim.world.knobs.on("validation_view");
    let validation_names = sim.world.knobs.get("validation_names").to_string();
    let status_column = sim.world.knobs.on("status_column");
    let shapes = Shapes::new(&sim.world.knobs);
    let (plan_id, cost) = {
        let item = own(sim, &user, id)?;
        (item.pricelist, shapes.cost_in_view().then_some(item.cost))
    };
    let plan_name = if shapes.needs_plan_name(true) {
        sim.catalog
            .plan(plan_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| plan_id.to_string())
    } else {
        String::new()
    };
    let crt_shape = sim.world.knobs.get("crt_shape").to_string();
    let item = own(sim, &user, id)?;
    // The fields whose shape the knobs choose are written as text (shapes.rs), the rest as nodes.
    let mut pricelist = String::new();
    shapes.write_pricelist(&mut pricelist, &plan_name, item.pricelist, true);
    let mut dates = String::new();
    dates.push_str("<createdate>");
    write_date(&mut dates, Some(item.createdate));
    dates.push_str("</createdate>");
    shapes.write_expiry(&mut dates, item.expiredate);
    shapes.write_status(&mut dates, item);
    let mut doc = Node::new("doc")
        .field("id", item.id.to_string())
        .field("CN", item.cn.clone())
        .field("altname", item.altnames.join(" "))
        .raw(pricelist)
        .field("period", item.period.to_string());
    if let Some(cost) = cost {
        doc = doc.raw(shapes.cost_xml(cost, &item.currency, item.period));
    }
    let mut doc = doc
        .raw(dates)
        .field("service_status", item.service_status.to_string())
        .field("status_msg", item.status_msg.clone())
        .field(
            "approver_method",
            item.approver_method.clone().unwrap_or_default(),
        )
        .field("approver_email", item.approver_emails.join(","))
        .field("csr", item.csr.clone().unwrap_or_default());
    if item.service_status == 5 {
        if let Some(crt) = &item.crt {
            let shaped = crate::upstream::certs::crt_field(crt, &item.cn, &crt_shape)
                .map_err(|e| ApiError::new("internal", e))?;
            doc = doc.field("crt", shaped);
        }
    }
    if knobs_validation_view {
        doc = validation_fields(doc, item, &validation_names);
    }
    if !item.old_altnames.is_empty() {
        doc = doc.field("old_altname", item.old_altnames.join(" "));
    }
    if show_remoteid {
        doc = doc.field("remoteid", item.remoteid.clone().unwrap_or_default());
    }
    if status_column {
        doc = doc.field("status", item.status.to_string());
    }
    Ok(doc)
}

/// The view's domain validation (knobs `validation_view`, `validation_names`; A-U4): the day the
/// e-mail went out, the DNS TXT value of a `auth_dnstxt` certificate, the names still to verify
/// and those validated. Requested: every name to verify; enrolled: the CN validated, the others
/// not yet; issued: all validated; failed: nothing shown.
fn validation_fields(mut doc: Node, item: &Item, names: &str) -> Node {
    let [sent, txt, pending, validated] = if names == "dcv" {
        [
            "dcv_email_sent",
            "dcv_dnstxt_value",
            "dcv_pending",
            "dcv_validated",
        ]
    } else {
        [
            "approver_email_sent",
            "auth_dnstxt_value",
            "domains_list",
            "domains_validated",
        ]
    };
    let mut all = vec![item.cn.clone()];
    all.extend(item.altnames.iter().filter(|n| **n != item.cn).cloned());
    let (to_verify, done): (Vec<String>, Vec<String>) = match item.service_status {
        3 => (all, Vec::new()),
        4 => (all[1..].to_vec(), all[..1].to_vec()),
        5 => (Vec::new(), all),
        _ => return doc,
    };
    let dns = item.approver_method.as_deref() == Some("auth_dnstxt");
    if !dns {
        if let Some(day) = item.dcv_sent {
            doc = doc.field(sent, day.format("%Y-%m-%d").to_string());
        }
    }
    doc = doc.field(
        txt,
        if dns && item.service_status != 5 {
            dns_txt_value(item)
        } else {
            String::new()
        },
    );
    doc.field(pending, to_verify.join(","))
        .field(validated, done.join(","))
}

/// The TXT value the simulated CA wants for an item: stable per certificate generation.
pub fn dns_txt_value(item: &Item) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{}:{}:{}", item.id, item.cn, item.certs_issued).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("sim-dv-{h:016x}")
}

/// The simulator's stand-in for the unknown upstream function that resends the validation
/// e-mail of a certificate waiting for validation (`[validation] resend_email_func` of the
/// module; A-U4): the first `approver_email_N` becomes the approver, the e-mail goes out today.
pub fn resend_email(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let id = call.elid()?;
    let emails = approver_emails(call);
    let today = sim.world.today();
    let item = own(sim, &user, id)?;
    if !matches!(item.service_status, 3 | 4) {
        return Err(ApiError::value(
            "elid",
            &id.to_string(),
            "only a certificate waiting for validation can get its e-mail again",
        ));
    }
    let Some(first) = emails.into_iter().next() else {
        return Err(ApiError::missed("approver_email_1"));
    };
    item.approver_method = Some("auth_email".into());
    item.approver_emails = vec![first];
    item.dcv_sent = Some(today);
    Ok(ok_doc(sim))
}

/// The simulator's stand-in for the unknown upstream function asking the CA to check a DNS
/// record again (`[validation] dns_check_func`; A-U4): the name must be one of the item's.
pub fn check_dns(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let id = call.elid()?;
    let domain = call
        .get("domain")
        .ok_or_else(|| ApiError::missed("domain"))?
        .to_string();
    let item = own(sim, &user, id)?;
    if !matches!(item.service_status, 3 | 4) {
        return Err(ApiError::value(
            "elid",
            &id.to_string(),
            "only a certificate waiting for validation can be checked again",
        ));
    }
    if domain != item.cn && !item.altnames.contains(&domain) {
        return Err(ApiError::value(
            "domain",
            &domain,
            "not a name of this certificate",
        ));
    }
    Ok(ok_doc(sim))
}

pub fn reissue(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let id = call.elid()?;
    let plan_id = {
        let item = own(sim, &user, id)?;
        if item.service_status != 5 || item.pending.is_some() {
            return Err(ApiError::value(
                "elid",
                &id.to_string(),
                "only an issued certificate can be reissued",
            ));
        }
        item.pricelist
    };
    let plan = sim.catalog.plan(plan_id).cloned();
    let wildcard = plan
        .as_ref()
        .and_then(|p| p.site_flag("wildcard"))
        .unwrap_or(false);
    let crt_type = call
        .get("crt_type")
        .ok_or_else(|| ApiError::missed("crt_type"))?;
    let mut new_csr = None;
    let mut new_names = None;
    match crt_type {
        "oldrequest" => {}
        "manual" => {
            let csr = call.get("csr").ok_or_else(|| ApiError::missed("csr"))?;
            check_csr(csr)?;
            new_csr = Some(csr.to_string());
        }
        "altname" => {
            let names = altnames(call);
            if names.is_empty() {
                return Err(ApiError::missed("altname"));
            }
            for n in &names {
                check_name("altname", n, wildcard)?;
            }
            let item = own(sim, &user, id)?;
            // Only as many names as were paid for (the addon quantity, itself within the plan limit).
            if names.len() as u32 > item.altname_qty {
                return Err(ApiError::value(
                    "altname",
                    &names.join(" "),
                    &format!(
                        "at most {} additional names were paid for",
                        item.altname_qty
                    ),
                ));
            }
            new_names = Some(names);
        }
        other => {
            return Err(ApiError::value(
                "crt_type",
                other,
                "oldrequest, manual or altname",
            ))
        }
    }
    let method = call.get("approver_method").map(str::to_string);
    let emails = approver_emails(call);
    let item = own(sim, &user, id)?;
    if let Some(csr) = new_csr {
        item.csr = Some(csr);
    }
    if let Some(names) = new_names {
        item.old_altnames = std::mem::replace(&mut item.altnames, names);
    }
    if method.is_some() {
        item.approver_method = method;
    }
    if !emails.is_empty() {
        item.approver_emails = emails;
    }
    sim.start_processing(id, PendingKind::Reissue);
    Ok(ok_doc(sim))
}

/// SIM-13: how much of what was paid for `item` comes back on delete.
fn refund(sim: &Sim, item: &Item) -> Decimal {
    let now = sim.world.now_secs();
    let unissued = item.issued_at.is_none() || item.service_status < 5;
    let full = match sim.world.knobs.refund_policy() {
        RefundPolicy::None => false,
        RefundPolicy::Unissued => item.issued_at.is_none() && item.service_status < 5,
        RefundPolicy::Window(days) => {
            unissued
                || item
                    .issued_at
                    .is_some_and(|t| now - t <= i64::from(days) * 86_400)
        }
    };
    if full {
        item.paid
    } else {
        Decimal::ZERO
    }
}

pub fn delete(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let ids = call.elids()?;
    if ids.is_empty() {
        return Err(ApiError::missed("elid"));
    }
    let may_delete = sim
        .world
        .accounts
        .get(&user)
        .map(|a| a.may_delete)
        .unwrap_or(false);
    if !may_delete {
        return Err(ApiError::access(sim));
    }
    // All ids are checked first: a group delete with one bad id changes nothing.
    for id in &ids {
        own(sim, &user, *id)?;
    }
    for id in ids {
        let back = match sim.world.items.get(&id) {
            Some(item) => refund(sim, item),
            None => continue,
        };
        if let Some(item) = sim.world.items.get_mut(&id) {
            item.deleted = true;
            item.status = 4;
            item.pending = None;
            item.in_cart = false;
            item.paid -= back;
        }
        if let Some(a) = sim.world.accounts.get_mut(&user) {
            a.balance += back;
        }
    }
    Ok(ok_doc(sim))
}

pub fn suspend_resume(sim: &mut Sim, call: &Call, suspend: bool) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let may = sim
        .world
        .accounts
        .get(&user)
        .map(|a| a.may_suspend)
        .unwrap_or(false);
    if !may {
        return Err(ApiError::access(sim));
    }
    let ids = call.elids()?;
    for id in &ids {
        let item = own(sim, &user, *id)?;
        let expected = if suspend { 2 } else { 3 };
        if item.status != expected {
            return Err(ApiError::value(
                "elid",
                &id.to_string(),
                if suspend {
                    "the service is not active"
                } else {
                    "the service is not suspended"
                },
            ));
        }
    }
    for id in ids {
        if let Ok(item) = own(sim, &user, id) {
            item.status = if suspend { 3 } else { 2 };
        }
    }
    Ok(ok_doc(sim))
}

/// `certificate.order.csr` (SIM-30): a CSR and its private key for `CN` (+ `altname`).
pub fn order_csr(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    call.user(sim)?;
    let cn = call.get("CN").ok_or_else(|| ApiError::missed("CN"))?;
    check_name("CN", cn, true)?;
    let names = altnames(call);
    let (csr, key) = certs::csr_and_key(cn, &names).map_err(|e| ApiError::new("value", e))?;
    Ok(Node::new("doc").field("csr", csr).field("key", key))
}
