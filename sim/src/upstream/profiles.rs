//! Named bundles of knobs in the style of a real panel (field-2026-12.md §1–5). Data only: applying
//! one (`--profile NAME`, `POST /_sim/profile`) resets every knob to its default and then sets
//! these (knobs.rs `Knobs::apply_profile`); single knobs set afterwards override them.
//!
//! The names and values are a contract with the module's profile tests: add, never rename.

/// name, knob assignments.
pub const PROFILES: &[(&str, &[(&str, &str)])] = &[
    // Today's behaviour: every knob at its default.
    ("default", &[]),
    // BILLmanager 6 at hosting.gcore.com, 2026-10 (live captures in FS 71186436630, 55077564878):
    // item_status {"$orig": …} on some rows and only item_real_status on others, no status column,
    // "Daily charges" in expiredate with the date in real_expiredate, "1.80 € / Month" costs with
    // item_cost and currency_str, the tariff name in pricelist and its id in pricelist_id; 2FA
    // answered with func=totp.confirm (FS 3481085040); paginated lists with p_elems
    // (FS 68455228345).
    (
        "bm6-gcore",
        &[
            ("item_status_shape", "orig_or_real"),
            ("status_column", "off"),
            ("expiredate_shape", "daily_label"),
            ("cost_shape", "per_month"),
            ("pricelist_shape", "name_with_id"),
            ("labels_lang", "en"),
            ("twofa_shape", "totp_confirm"),
            ("list_p_elems", "on"),
            ("list_deleted", "on"),
        ],
    ),
    // BILLmanager 6 as Zomro's client code shows it (FS 3598771711, 3568929349, 3555004354): a
    // numeric status column beside item_status with compound orig codes, Russian labels, "21,00
    // EUR" costs, expiredate and real_expiredate; paginated lists (FS 68455228345), here with a
    // small p_cnt cap on purpose so a handful of certificates pages; the new cart that ignores
    // skipbasket and answers lineitem.id (FS 32391036524, 5296154253, 3578094251); errors inside
    // <warning> (FS 66932350124); 2FA answered with func=totp.confirm (FS 3481085040).
    (
        "bm6-zomro",
        &[
            ("status_column", "on"),
            ("item_status_shape", "orig_compound"),
            ("labels_lang", "ru"),
            ("cost_shape", "comma"),
            ("expiredate_shape", "with_real"),
            ("list_p_elems", "on"),
            ("list_page_default", "20"),
            ("list_page_max", "3"),
            ("order_cart", "on"),
            ("cart_answer", "lineitem.id"),
            ("error_wrap", "warning"),
            ("twofa_shape", "totp_confirm"),
        ],
    ),
    // BILLmanager 5: a numeric status column beside a label (the shape knob status_column was
    // made for; field-2026-12 §1), orders into the cart answered with billorder.id, "BILLmanager 5
    // cart" (field-2026-12 §4-5: FS 32391036524, 3509837948), expiry with a time of day
    // (FS 3522491149), plain costs.
    (
        "bm5-classic",
        &[
            ("status_column", "on"),
            ("item_status_shape", "label"),
            ("order_cart", "on"),
            ("cart_answer", "billorder.id"),
            ("expiredate_shape", "datetime"),
            ("cost_shape", "plain"),
        ],
    ),
];

/// The knobs of profile `name`, or an error listing the known names.
pub fn bundle(name: &str) -> Result<&'static [(&'static str, &'static str)], String> {
    PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, knobs)| *knobs)
        .ok_or_else(|| {
            let names: Vec<&str> = PROFILES.iter().map(|(n, _)| *n).collect();
            format!("unknown profile {name:?}; known: {}", names.join(", "))
        })
}
