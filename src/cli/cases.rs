//! What `sijil cases` and `sijil case REF` print, read from a store the
//! daemon is not using.

use crate::edge::store::Store;

/// `sijil cases`: one line per case, with a header line.
pub(super) fn list(store: &Store) -> Result<(), String> {
    println!(
        "{:<18} {:<12} {:<20} {:<5} UPDATED",
        "CASE", "STATE", "ESPA", "ORDER"
    );
    for case in store.cases() {
        let case = case.map_err(|e| e.to_string())?;
        let (espa, order) = case
            .espa_order()
            .map(|(e, o)| (e, o.to_string()))
            .unwrap_or_else(|| ("-".into(), "-".into()));
        println!(
            "{:<18} {:<12} {:<20} {:<5} {}",
            case.reference,
            case.state.as_str(),
            espa,
            order,
            case.updated_at.format("%Y-%m-%d %H:%M")
        );
    }
    Ok(())
}

/// `sijil case REF`: the case, its signee, problems, documents and history.
pub(super) fn show(store: &Store, reference: &str) -> Result<(), String> {
    let reference = reference.trim().to_uppercase();
    let case = store
        .case(&reference)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no case {reference}"))?;
    println!("{}  {}  ({})", case.reference, case.state, case.company);
    if let Some(a) = &case.application {
        println!(
            "signee: {} <{}>, {} {}, order {} of {}",
            a.full_name,
            a.email,
            a.role.as_str(),
            crate::core::context::mask_id(a.id_type, &a.id_number),
            a.order,
            a.espa_ref
        );
    }
    for p in &case.problems {
        println!("problem: {} {}", p.code.id(), p.en());
    }
    for d in &case.documents {
        println!(
            "document: {} ({} bytes, sha256 {})",
            d.name, d.size, &d.sha256
        );
    }
    println!("history:");
    for e in store.history(&reference).map_err(|e| e.to_string())? {
        let what = serde_json::to_string(&e.what).unwrap_or_default();
        println!(
            "  {}  {:<28} {what}",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.actor.to_string()
        );
    }
    Ok(())
}
