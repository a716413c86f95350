//! The Handlebars helpers that turn a code into words for people
//! (`{{state_label existing.state "ms"}}`, `{{reason_label signee.reason "en"}}`)
//! and the Malay/English tables behind them.

use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, ScopedJson};
use serde_json::Value;

use crate::pack_check::Reason;

/// Registers both label helpers on `registry` (each registry gets them).
pub(super) fn register(registry: &mut Handlebars<'_>) {
    registry.register_helper("state_label", Box::new(LabelHelper(state_label)));
    registry.register_helper("reason_label", Box::new(LabelHelper(reason_label)));
}

/// A template helper mapping a code to its label in a language:
/// `{{state_label existing.state "ms"}}`. An unknown code is shown as is; a
/// missing one renders nothing.
struct LabelHelper(fn(&str, Lang) -> Option<&'static str>);

#[derive(Clone, Copy)]
enum Lang {
    Ms,
    En,
}

impl HelperDef for LabelHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let code = h.param(0).and_then(|p| p.value().as_str()).unwrap_or("");
        let lang = match h.param(1).and_then(|p| p.value().as_str()) {
            Some("en") => Lang::En,
            _ => Lang::Ms,
        };
        let label = (self.0)(code, lang).unwrap_or(code);
        Ok(ScopedJson::Derived(Value::String(label.to_owned())))
    }
}

/// The case states of SPEC §5, for people.
fn state_label(code: &str, lang: Lang) -> Option<&'static str> {
    let (ms, en) = match code {
        "incomplete" => ("Tidak lengkap", "Incomplete"),
        "received" => (
            "Diterima, menunggu pengesahan",
            "Received, awaiting verification",
        ),
        "verified" => (
            "Disahkan, menunggu kelulusan",
            "Verified, awaiting approval",
        ),
        "pin_pending" => (
            "Menunggu penetapan PIN sijil",
            "Awaiting the certificate PIN",
        ),
        "pin_set" => (
            "PIN ditetapkan, menunggu semakan kualiti (QC)",
            "PIN set, awaiting quality check (QC)",
        ),
        "active" => (
            "Aktif, Sijil Roaming sedia",
            "Active, Roaming Certificate ready",
        ),
        "signed" => ("Telah menandatangani eSPA", "eSPA signed"),
        "rejected" => ("Ditolak", "Rejected"),
        "withdrawn" => ("Ditarik balik", "Withdrawn"),
        _ => return None,
    };
    Some(match lang {
        Lang::Ms => ms,
        Lang::En => en,
    })
}

/// The reasons for the manual route (SPEC §4).
/// The reason labels live with the pack check's `Reason`; a code it does
/// not know has none.
fn reason_label(code: &str, lang: Lang) -> Option<&'static str> {
    let (ms, en) = Reason::from_code(code)?.labels();
    Some(match lang {
        Lang::Ms => ms,
        Lang::En => en,
    })
}
