//! What the eSPA emails' templates see (`templates/README.md`): the eSPA
//! with its document and every signee's order, role, name, route and
//! state, and problems in the same shape as a pack's.

use serde_json::{Value, json};

use super::problems::EspaProblem;
use super::{Espa, Signee, thread_ref};
use crate::core::context::human_size;

/// The whole eSPA: `ref` is its tag (`eSPA HDA-…`), as in the subject.
pub fn espa_context(espa: &Espa) -> Value {
    json!({
        "ref": thread_ref(&espa.reference),
        "company": espa.company,
        "espa": {
            "reference": espa.reference,
            "project": espa.project,
            "document": {
                "name": espa.document.name,
                "size": human_size(espa.document.size),
                "sha256": espa.document.sha256,
            },
            "signees": espa.signees.iter().map(signee_context).collect::<Vec<_>>(),
        },
    })
}

pub fn signee_context(s: &Signee) -> Value {
    let (state_ms, state_en) = s.state.labels();
    json!({
        "order": s.order,
        "role": s.role.as_str(),
        "role_en": s.role.as_en(),
        "name": s.name,
        "email": s.email,
        "route": s.route.as_str(),
        "state": s.state.as_str(),
        "state_ms": state_ms,
        "state_en": state_en,
        "case": s.case_ref,
    })
}

/// Problems as the templates list them: the code and both sentences.
pub fn problems_context(problems: &[EspaProblem]) -> Value {
    Value::Array(
        problems
            .iter()
            .map(|p| json!({ "code": p.code.id(), "ms": p.ms(), "en": p.en() }))
            .collect(),
    )
}
