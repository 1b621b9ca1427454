//! How a certificate's fields are written in the list (`certificate`) and the view
//! (`certificate.edit`): the field shapes of real panels (field-2026-12.md §1–4), chosen by knobs
//! `item_status_shape`, `labels_lang`, `expiredate_shape`, `cost_shape` and `pricelist_shape`.
//! Everything is written straight into the answer text (a list has 10,000 rows in the
//! benchmarks): no allocation per row beyond what the default shapes already made.

use crate::upstream::knobs::Knobs;
use crate::upstream::state::{money, Item, PendingKind};
use crate::upstream::xml::write_field;
use chrono::NaiveDate;
use rust_decimal::Decimal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusShape {
    /// `<item_status>2</item_status>` (only mocks send it).
    Code,
    /// `<item_status>Active</item_status>`.
    Label,
    /// `<item_status orig="2">Active</item_status>` (gcore).
    Orig,
    /// `orig` with compound codes: `5_open`, `5_prolong`, `3_autosuspend` (Zomro).
    OrigCompound,
    /// No `item_status`; `<item_real_status>2</item_real_status>` (gcore).
    RealStatus,
    /// gcore's mix: even ids `Orig`, odd ids `RealStatus`.
    OrigOrReal,
    /// No item status at all.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiryShape {
    Date,
    WithReal,
    DailyLabel,
    DateTime,
    Dotted,
    /// No `<expiredate>` and no `<real_expiredate>` at all.
    Missing,
    /// `<expiredate>soon</expiredate>`: not a date, and nothing explains it.
    Garbage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CostShape {
    Plain,
    PerMonth,
    SymbolPrefix,
    Comma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PricelistShape {
    /// List: the plan name; view: the plan id.
    Default,
    /// `<pricelist>` = name, `<pricelist_id>` = id, list and view.
    NameWithId,
    /// The id in both.
    Id,
}

/// The time of day `expiredate_shape=datetime` writes (the shape of FS 3522491149).
const EXPIRY_TIME: &str = " 20:00";

/// The field shapes of one answer, read from the knobs once.
pub struct Shapes {
    status: StatusShape,
    ru: bool,
    expiry: ExpiryShape,
    cost: CostShape,
    pricelist: PricelistShape,
}

impl Shapes {
    pub fn new(knobs: &Knobs) -> Shapes {
        let status = match knobs.get("item_status_shape") {
            // `item_status_label=on` is the older name of the label shape.
            "code" if knobs.on("item_status_label") => StatusShape::Label,
            "code" => StatusShape::Code,
            "label" => StatusShape::Label,
            "orig" => StatusShape::Orig,
            "orig_compound" => StatusShape::OrigCompound,
            "real_status" => StatusShape::RealStatus,
            "orig_or_real" => StatusShape::OrigOrReal,
            _ => StatusShape::None,
        };
        let expiry = match knobs.get("expiredate_shape") {
            "with_real" => ExpiryShape::WithReal,
            "daily_label" => ExpiryShape::DailyLabel,
            "datetime" => ExpiryShape::DateTime,
            "dotted" => ExpiryShape::Dotted,
            "missing" => ExpiryShape::Missing,
            "garbage" => ExpiryShape::Garbage,
            _ => ExpiryShape::Date,
        };
        let cost = match knobs.get("cost_shape") {
            "per_month" => CostShape::PerMonth,
            "symbol_prefix" => CostShape::SymbolPrefix,
            "comma" => CostShape::Comma,
            _ => CostShape::Plain,
        };
        let pricelist = match knobs.get("pricelist_shape") {
            "name_with_id" => PricelistShape::NameWithId,
            "id" => PricelistShape::Id,
            _ => PricelistShape::Default,
        };
        Shapes {
            status,
            ru: knobs.get("labels_lang") == "ru",
            expiry,
            cost,
            pricelist,
        }
    }

    /// Whether the plan name is written at all (else only the id: no catalogue lookup needed).
    pub fn needs_plan_name(&self, view: bool) -> bool {
        match self.pricelist {
            PricelistShape::Default => !view,
            PricelistShape::NameWithId => true,
            PricelistShape::Id => false,
        }
    }

    /// `<pricelist>` (and `<pricelist_id>`); `name` is only read when `needs_plan_name`.
    pub fn write_pricelist(&self, out: &mut String, name: &str, id: u64, view: bool) {
        if self.needs_plan_name(view) {
            write_field(out, "pricelist", name);
        } else {
            out.push_str("<pricelist>");
            push_num(out, id, 0);
            out.push_str("</pricelist>");
        }
        if self.pricelist == PricelistShape::NameWithId {
            out.push_str("<pricelist_id>");
            push_num(out, id, 0);
            out.push_str("</pricelist_id>");
        }
    }

    /// The item status in its shape (nothing for `none`).
    pub fn write_status(&self, out: &mut String, item: &Item) {
        let shape = match self.status {
            StatusShape::OrigOrReal if item.id.is_multiple_of(2) => StatusShape::Orig,
            StatusShape::OrigOrReal => StatusShape::RealStatus,
            s => s,
        };
        match shape {
            StatusShape::Code => {
                out.push_str("<item_status>");
                push_num(out, u64::from(item.status), 0);
                out.push_str("</item_status>");
            }
            StatusShape::Label => write_field(out, "item_status", self.label(item.status)),
            StatusShape::Orig | StatusShape::OrigCompound => {
                out.push_str("<item_status orig=\"");
                if shape == StatusShape::OrigCompound {
                    out.push_str(compound_code(item));
                } else {
                    push_num(out, u64::from(item.status), 0);
                }
                out.push_str("\">");
                out.push_str(self.label(item.status));
                out.push_str("</item_status>");
            }
            StatusShape::RealStatus => {
                out.push_str("<item_real_status>");
                push_num(out, u64::from(item.status), 0);
                out.push_str("</item_real_status>");
            }
            StatusShape::OrigOrReal | StatusShape::None => {}
        }
    }

    /// A status label in `labels_lang` (every label is plain text: nothing to escape).
    fn label(&self, status: u8) -> &'static str {
        match (self.ru, status) {
            (false, 1) => "Ordered",
            (false, 2) => "Active",
            (false, 3) => "Suspended",
            (false, 4) => "Deleted",
            (false, 5) => "In progress",
            (false, _) => "Unknown",
            (true, 1) => "Заказан",
            (true, 2) => "Активен",
            (true, 3) => "Остановлен",
            (true, 4) => "Удален",
            (true, 5) => "В обработке",
            (true, _) => "Неизвестно",
        }
    }

    /// `<expiredate>` in its shape, with `<real_expiredate>` for `with_real` and `daily_label`.
    /// Without an expiry every element is empty. `missing` writes nothing; `garbage` writes
    /// `soon` in place of the date.
    pub fn write_expiry(&self, out: &mut String, d: Option<NaiveDate>) {
        match self.expiry {
            ExpiryShape::Missing => return,
            ExpiryShape::Garbage => {
                out.push_str("<expiredate>soon</expiredate>");
                return;
            }
            _ => {}
        }
        out.push_str("<expiredate>");
        if let Some(d) = d {
            match self.expiry {
                ExpiryShape::Date | ExpiryShape::WithReal => write_date(out, Some(d)),
                ExpiryShape::DailyLabel => out.push_str(if self.ru {
                    "Ежедневное списание"
                } else {
                    "Daily charges"
                }),
                ExpiryShape::DateTime => {
                    write_date(out, Some(d));
                    out.push_str(EXPIRY_TIME);
                }
                ExpiryShape::Dotted => write_dotted(out, d),
                ExpiryShape::Missing | ExpiryShape::Garbage => {}
            }
        }
        out.push_str("</expiredate>");
        if matches!(self.expiry, ExpiryShape::WithReal | ExpiryShape::DailyLabel) {
            out.push_str("<real_expiredate>");
            write_date(out, d);
            out.push_str("</real_expiredate>");
        }
    }

    /// Whether the view shows the cost (it has none in the default shape).
    pub fn cost_in_view(&self) -> bool {
        self.cost != CostShape::Plain
    }

    /// `<cost>` in its shape (with `<item_cost>` and `<currency_str>` for `per_month`): `cost` is
    /// the price of one period of `months` months. Rows repeat prices: the list caches this.
    pub fn cost_xml(&self, cost: Decimal, currency: &str, months: i32) -> String {
        let mut out = String::new();
        let symbol = symbol(currency);
        let text = match self.cost {
            CostShape::Plain => format!("{} {currency}", money(cost)),
            CostShape::Comma => format!("{} {currency}", money(cost).replace('.', ",")),
            CostShape::SymbolPrefix => match symbol {
                Some(sym) => format!("{sym}{}", money(cost)),
                // A currency without a symbol keeps its code, where a panel writes it.
                None => format!("{} {currency}", money(cost)),
            },
            CostShape::PerMonth => {
                let per_month = (cost / Decimal::from(months.max(1))).round_dp(2);
                let tail = if self.ru { "Месяц" } else { "Month" };
                format!(
                    "{} {} / {tail}",
                    fixed(per_month, 2),
                    symbol.unwrap_or(currency)
                )
            }
        };
        write_field(&mut out, "cost", &text);
        if self.cost == CostShape::PerMonth {
            write_field(&mut out, "item_cost", &fixed(cost, 4));
            write_field(&mut out, "currency_str", symbol.unwrap_or(currency));
        }
        out
    }
}

/// The currency symbols panels print; other currencies keep their code.
fn symbol(currency: &str) -> Option<&'static str> {
    match currency {
        "EUR" => Some("€"),
        "USD" => Some("$"),
        "RUB" => Some("₽"),
        _ => None,
    }
}

/// `d` rounded to exactly `dp` decimals.
fn fixed(d: Decimal, dp: u32) -> String {
    let mut d = d.round_dp(dp);
    d.rescale(dp);
    d.to_string()
}

/// `orig` of `item_status_shape=orig_compound` (BILLmanager 6 as Zomro's client reads it,
/// FS 3598771711, 3568929349): processing carries its kind, a suspension `autosuspend` (the
/// simulator does not tell who suspended), everything else the bare code.
fn compound_code(item: &Item) -> &'static str {
    match item.status {
        1 => "1",
        2 => "2",
        3 => "3_autosuspend",
        4 => "4",
        5 => match item.pending {
            Some((PendingKind::Order, _)) => "5_open",
            Some((PendingKind::Prolong, _)) => "5_prolong",
            Some((PendingKind::Reissue, _)) => "5_reissue",
            // Processing stopped (a failed issuance): still the open of a new service.
            None if item.certs_issued == 0 => "5_open",
            None => "5",
        },
        _ => "0",
    }
}

/// `YYYY-MM-DD`, or nothing; by hand: chrono's `format` parses its pattern on every call, and a
/// list writes two dates per certificate.
pub fn write_date(out: &mut String, d: Option<NaiveDate>) {
    use chrono::Datelike;
    if let Some(d) = d {
        push_num(out, u64::try_from(d.year()).unwrap_or(0), 4);
        out.push('-');
        push_num(out, u64::from(d.month()), 2);
        out.push('-');
        push_num(out, u64::from(d.day()), 2);
    }
}

/// `DD.MM.YYYY`.
fn write_dotted(out: &mut String, d: NaiveDate) {
    use chrono::Datelike;
    push_num(out, u64::from(d.day()), 2);
    out.push('.');
    push_num(out, u64::from(d.month()), 2);
    out.push('.');
    push_num(out, u64::try_from(d.year()).unwrap_or(0), 4);
}

/// `n` in decimal, zero-padded to `width`, without the formatting machinery (see `write_date`).
pub fn push_num(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in (digits.len() - start)..width {
        out.push('0');
    }
    out.extend(digits[start..].iter().map(|b| char::from(*b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(knobs: &[(&str, &str)]) -> Shapes {
        let mut k = Knobs::default();
        for (n, v) in knobs {
            k.set(n, v).unwrap();
        }
        Shapes::new(&k)
    }

    #[test]
    fn costs() {
        let c: Decimal = "21.0000".parse().unwrap();
        assert_eq!(shapes(&[]).cost_xml(c, "EUR", 12), "<cost>21.00 EUR</cost>");
        assert_eq!(
            shapes(&[("cost_shape", "per_month")]).cost_xml(c, "EUR", 12),
            "<cost>1.75 € / Month</cost><item_cost>21.0000</item_cost><currency_str>€</currency_str>"
        );
        assert_eq!(
            shapes(&[("cost_shape", "per_month"), ("labels_lang", "ru")]).cost_xml(
                "900".parse().unwrap(),
                "RUB",
                24
            ),
            "<cost>37.50 ₽ / Месяц</cost><item_cost>900.0000</item_cost><currency_str>₽</currency_str>"
        );
        assert_eq!(
            shapes(&[("cost_shape", "symbol_prefix")]).cost_xml(c, "USD", 12),
            "<cost>$21.00</cost>"
        );
        assert_eq!(
            shapes(&[("cost_shape", "symbol_prefix")]).cost_xml(c, "GBP", 12),
            "<cost>21.00 GBP</cost>"
        );
        assert_eq!(
            shapes(&[("cost_shape", "comma")]).cost_xml("0.1048".parse().unwrap(), "EUR", 12),
            "<cost>0,1048 EUR</cost>"
        );
    }

    #[test]
    fn dates_and_numbers_by_hand() {
        let mut out = String::new();
        write_date(&mut out, NaiveDate::from_ymd_opt(2027, 3, 5));
        write_date(&mut out, None);
        out.push(' ');
        write_dotted(&mut out, NaiveDate::from_ymd_opt(987, 12, 31).unwrap());
        out.push(' ');
        push_num(&mut out, 0, 0);
        out.push(' ');
        push_num(&mut out, 100_001, 0);
        out.push(' ');
        push_num(&mut out, u64::MAX, 0);
        assert_eq!(out, format!("2027-03-05 31.12.0987 0 100001 {}", u64::MAX));
    }
}
