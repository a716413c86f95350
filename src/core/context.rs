//! What an email's template sees of a case (SPEC §6): the case summary,
//! the signee (never the full ID number), the documents and the problems,
//! with the bilingual labels they are shown with.

use serde_json::{Value, json};

use crate::core::case::{Case, Document};
use crate::pack_check::fields::Field;
use crate::pack_check::{IdType, Problem};

pub fn case_context(case: &Case) -> Value {
    json!({
        "ref": case.reference,
        "company": case.company,
        "state": case.state.as_str(),
        "state_ms": case.state.labels().0,
        "state_en": case.state.labels().1,
        "signee": signee_context(case),
        "documents": case.documents.iter().map(document_context).collect::<Vec<_>>(),
        "problems": problems_context(&case.problems.iter().collect::<Vec<_>>()),
        "notices": problems_context(&case.notices.iter().collect::<Vec<_>>()),
    })
}

/// Problems as the templates list them: the code and both sentences.
pub fn problems_context(problems: &[&Problem]) -> Value {
    Value::Array(
        problems
            .iter()
            .map(|p| {
                json!({
                    "code": p.code.id(),
                    "ms": p.ms(),
                    "en": p.en(),
                })
            })
            .collect(),
    )
}

/// What the templates may show of the signee: never the full ID number.
pub fn signee_context(case: &Case) -> Value {
    if let Some(a) = &case.application {
        return json!({
            "name": a.full_name,
            "email": a.email,
            "phone": a.phone,
            "role": a.role.as_str(),
            "role_en": a.role.as_en(),
            "order": a.order,
            "espa_ref": a.espa_ref,
            "id_type": a.id_type.label(),
            "id_masked": mask_id(a.id_type, &a.id_number),
            "nationality": a.nationality,
            "reason": a.reason.as_str(),
        });
    }
    // Incomplete: show what was written, the ID number masked as the ACK
    // masks it (by the ID Type written, else keeping only its start).
    let f = |field| case.fields.get(field).map(str::to_string);
    let id_masked = case.fields.get(Field::IdNumber).map(|number| {
        match case.fields.get(Field::IdType).and_then(IdType::parse) {
            Some(id_type) => mask_id(id_type, number),
            None => crate::pack_check::mykad::masked(number),
        }
    });
    json!({
        "id_masked": id_masked,
        "name": f(Field::FullName),
        "email": f(Field::Email),
        "phone": f(Field::Phone),
        "role": f(Field::Role),
        "order": f(Field::Order),
        "espa_ref": f(Field::EspaRef),
        "id_type": f(Field::IdType),
        "nationality": f(Field::Nationality),
        "reason": f(Field::Reason),
    })
}

fn document_context(d: &Document) -> Value {
    let (kind_ms, kind_en) = d
        .kind
        .map(|k| k.labels())
        .unwrap_or(("Dokumen lain", "Other document"));
    json!({
        "kind_ms": kind_ms,
        "kind_en": kind_en,
        "name": d.name,
        "size": human_size(d.size),
        "sha256": d.sha256.get(..12).unwrap_or(&d.sha256),
    })
}

/// ID numbers are personal data: emails and logs show only a part.
pub fn mask_id(id_type: IdType, number: &str) -> String {
    match id_type {
        IdType::MyKad | IdType::MyPr => crate::pack_check::mykad::masked(number),
        IdType::Passport => {
            let chars: Vec<char> = number.chars().collect();
            let keep = chars.len().saturating_sub(3);
            chars
                .iter()
                .enumerate()
                .map(|(i, c)| if i < keep { '*' } else { *c })
                .collect()
        }
    }
}

/// A size as people read it: `120 KB`, `1.4 MB`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b.div_ceil(1024)),
        b => format!("{b} B"),
    }
}
