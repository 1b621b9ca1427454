//! A synthetic but realistic `pricelist.export` of many certificate tariffs,
//! for the large-catalog tests and the benchmark (shared via `#[path]`).
//! Deterministic: the same `n` always gives the same document.

#![allow(dead_code)]

/// What the generated export contains, so tests can assert exact counts.
pub struct Expected {
    pub tariffs: usize,
    pub skipped: usize,
    pub eur: usize,
    pub rub: usize,
    pub wildcard: usize,
    pub multidomain: usize,
}

/// `n` tariffs (ids 100_000 + i) plus a few that must be skipped.
pub fn export(n: usize) -> (String, Expected) {
    let mut s = String::with_capacity(n * 900);
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc lang=\"ru\" func=\"pricelist.export\"><tparams><out>xml</out></tparams>\n");
    let mut e = Expected {
        tariffs: n,
        skipped: 3,
        eur: 0,
        rub: 0,
        wildcard: 0,
        multidomain: 0,
    };
    for i in 0..n {
        let id = 100_000 + i;
        let (currency, base) = if i % 3 == 0 {
            ("RUB", 990 + (i % 500) * 37)
        } else {
            ("EUR", 5 + i % 250)
        };
        if currency == "RUB" {
            e.rub += 1
        } else {
            e.eur += 1
        }
        let wildcard = i % 4 == 1;
        let multi = i % 5 == 2;
        let validation = ["DV", "OV", "EV"][i % 3];
        // Every other tariff states its nature in siteinfo, the rest by name only.
        let with_siteinfo = i % 2 == 0;
        let name = format!(
            "Brand{} {} SSL{}{}",
            i % 17,
            validation,
            if wildcard { " Wildcard" } else { "" },
            if multi { " Multi-Domain" } else { "" }
        );
        if wildcard {
            e.wildcard += 1
        }
        if multi {
            e.multidomain += 1
        }
        s.push_str(&format!("<pricelist><id>{id}</id><name>{name}</name><name_ru>{name} (ру) &amp; «кавычки»</name_ru>"));
        s.push_str(
            "<description_ru>&lt;p&gt;Описание&lt;/p&gt;</description_ru><active>on</active>",
        );
        s.push_str(
            "<itemtype>17</itemtype><itemtype_info><intname>certificate</intname></itemtype_info>",
        );
        s.push_str(&format!("<price currency=\"{currency}\">"));
        if i % 7 == 0 {
            s.push_str("<period cost=\"0.0000\" type=\"month\" length=\"-100\">trial</period>");
        }
        s.push_str(&format!(
            "<period cost=\"{base}.{:04}\" type=\"month\" length=\"12\">1</period>",
            (i * 13) % 10_000
        ));
        if i % 6 == 0 {
            s.push_str("<period cost=\"\" type=\"month\" length=\"24\">2</period>");
        } else {
            s.push_str(&format!(
                "<period cost=\"{}.5000\" type=\"month\" length=\"24\">2</period>",
                base * 2 - 1
            ));
        }
        s.push_str("</price>");
        if multi {
            s.push_str("<addon><id>1</id><intname>altname</intname><addontype>2</addontype><billtype>2</billtype><addonmin>0</addonmin><addonlimit>250</addonlimit>");
            s.push_str("<measure>1</measure><measure><id>1</id><name>шт.</name></measure><price><period cost=\"3.0000\" type=\"month\" length=\"12\"/></price></addon>");
        }
        if with_siteinfo {
            s.push_str(&format!(
                "<siteinfo>validation={validation}, wildcard={}, multidomain={}, www=yes, idn=no</siteinfo>",
                if wildcard { "yes" } else { "no" },
                if multi { "yes" } else { "no" }
            ));
        }
        // Unknown fields a newer upstream might add.
        s.push_str(&format!("<orderpolicy>{}</orderpolicy><futurefield a=\"1\"><nested>x</nested></futurefield><![CDATA[ignored]]>", i % 3));
        s.push_str("</pricelist>\n");
    }
    // Three that must be skipped with a reason, never panic.
    s.push_str("<pricelist><name>No id</name></pricelist>\n");
    s.push_str("<pricelist><id>7</id><name>VPS</name><itemtype_info><intname>vds</intname></itemtype_info></pricelist>\n");
    s.push_str("<pricelist><id>8</id><price currency=\"EUR\"><period cost=\"1\" type=\"month\" length=\"12\"/></price></pricelist>\n");
    s.push_str("</doc>\n");
    (s, e)
}
