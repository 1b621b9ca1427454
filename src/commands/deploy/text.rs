//! The service form's deploy and new-certificate lines, in the language of
//! `[form] language` (the descriptor's labels and hints carry both).

use chrono::NaiveDate;

use super::hook::Ended;
use crate::config::FormLanguage;

/// Why a run did not deploy, in words.
pub fn why(lang: FormLanguage, ended: &Ended) -> String {
    match (lang, ended) {
        (FormLanguage::En, Ended::Exit(c)) => format!("exit {c}"),
        (FormLanguage::Ru, Ended::Exit(c)) => format!("код {c}"),
        (FormLanguage::En, Ended::Signal(s)) => format!("killed by signal {s}"),
        (FormLanguage::Ru, Ended::Signal(s)) => format!("остановлен сигналом {s}"),
        (FormLanguage::En, Ended::TimedOut(s)) => format!("timed out after {s} s"),
        (FormLanguage::Ru, Ended::TimedOut(s)) => format!("не завершился за {s} с"),
        (FormLanguage::En, Ended::NotStarted(e)) => {
            format!("could not start: {}", crate::quote::quote(e))
        }
        (FormLanguage::Ru, Ended::NotStarted(e)) => {
            format!("не запустился: {}", crate::quote::quote(e))
        }
    }
}

/// A run interrupted (the module killed while the hook ran).
pub fn interrupted(lang: FormLanguage) -> String {
    match lang {
        FormLanguage::En => "interrupted".into(),
        FormLanguage::Ru => "прерван".into(),
    }
}

/// The cap reached by earlier attempts (a lowered `max_attempts`).
pub fn earlier_failed(lang: FormLanguage) -> String {
    match lang {
        FormLanguage::En => "the earlier attempts failed".into(),
        FormLanguage::Ru => "предыдущие попытки не удались".into(),
    }
}

pub fn deployed(lang: FormLanguage, stamp: &str) -> String {
    match lang {
        FormLanguage::En => format!("deployed on {stamp} (exit 0)"),
        FormLanguage::Ru => format!("установлен {stamp} (код 0)"),
    }
}

pub fn will_retry(lang: FormLanguage, stamp: &str, why: &str, attempt: u32, max: u32) -> String {
    match lang {
        FormLanguage::En => format!(
            "not deployed on {stamp}: {why} (attempt {attempt} of {max}); the next sync tries again"
        ),
        FormLanguage::Ru => format!(
            "не установлен {stamp}: {why} (попытка {attempt} из {max}); следующая синхронизация попробует снова"
        ),
    }
}

pub fn gave_up(lang: FormLanguage, stamp: &str, why: &str, max: u32, item: u64) -> String {
    match lang {
        FormLanguage::En => format!(
            "not deployed on {stamp}: {why}; given up after {max} attempts, run pmsslreseller deploy --item {item}"
        ),
        FormLanguage::Ru => format!(
            "не установлен {stamp}: {why}; после {max} попыток больше не запускается, выполните pmsslreseller deploy --item {item}"
        ),
    }
}

/// After a reissue, until the new certificate is deployed.
pub fn new_certificate(lang: FormLanguage, issued: NaiveDate, install_before: NaiveDate) -> String {
    match lang {
        FormLanguage::En => {
            format!("new certificate issued on {issued}, install it before {install_before}")
        }
        FormLanguage::Ru => {
            format!("новый сертификат выпущен {issued}, установите его до {install_before}")
        }
    }
}
