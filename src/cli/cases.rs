//! What `sijil cases` and `sijil case REF` print, read from a store the
//! daemon is not using: for people, times in the operator's zone
//! (`[general] timezone`); with `--json`, one object for scripts, times in
//! UTC. Neither shows more of the signee than their first name.

use std::io::Write;

use serde_json::json;

use crate::config::Config;
use crate::core::case::Case;
use crate::core::context::human_size;
use crate::edge::store::Store;
use crate::pack_check::fields::Field;

use super::out::Stop;

/// `sijil cases`: one line per case, with a header line.
pub(super) fn list(store: &Store, cfg: &Config, out: &mut dyn Write) -> Result<(), Stop> {
    writeln!(
        out,
        "{:<18} {:<12} {:<20} {:<5} UPDATED",
        "CASE", "STATE", "ESPA", "ORDER"
    )?;
    for case in store.cases() {
        let case = case?;
        let (espa, order) = case
            .espa_order()
            .map(|(e, o)| (e, o.to_string()))
            .unwrap_or_else(|| ("-".into(), "-".into()));
        writeln!(
            out,
            "{:<18} {:<12} {:<20} {:<5} {}",
            case.reference,
            case.state.as_str(),
            espa,
            order,
            cfg.general.local_time(case.updated_at)
        )?;
    }
    Ok(())
}

/// `sijil case REF [--json]`: the case, its documents and its history.
pub(super) fn show(
    store: &Store,
    cfg: &Config,
    reference: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    let reference = reference.trim().to_uppercase();
    let case = store
        .case(&reference)?
        .ok_or_else(|| format!("no case {reference}"))?;
    let history = store.history(&reference)?;
    if json {
        let record = json!({
            "reference": case.reference,
            "state": case.state,
            "company": case.company,
            "created_at": case.created_at,
            "updated_at": case.updated_at,
            "signee": signee(&case),
            "problems": case.problems.iter().map(|p| p.code.id()).collect::<Vec<_>>(),
            "documents": case.documents.iter().map(|d| json!({
                "name": d.name,
                "size": d.size,
                "sha256": d.sha256,
                "purged_at": d.purged_at,
            })).collect::<Vec<_>>(),
            "history": history,
        });
        let text = serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?;
        writeln!(out, "{text}")?;
        return Ok(());
    }
    let when = |at| cfg.general.local_time(at);
    writeln!(out, "{}  {}", case.reference, case.state)?;
    writeln!(out, "developer  {}", case.company)?;
    let signee = signee(&case);
    let role = signee["role"]
        .as_str()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    writeln!(
        out,
        "signee     {}{role}",
        signee["first_name"].as_str().unwrap_or("-")
    )?;
    if let Some((espa, order)) = case.espa_order() {
        writeln!(out, "eSPA       {espa}, signing order {order}")?;
    }
    writeln!(
        out,
        "opened     {}; last change {}",
        when(case.created_at),
        when(case.updated_at)
    )?;
    for p in &case.problems {
        writeln!(out, "problem    {} {}", p.code.id(), p.en())?;
    }
    for p in &case.notices {
        writeln!(out, "notice     {} {}", p.code.id(), p.en())?;
    }
    writeln!(out, "documents")?;
    if case.documents.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for d in &case.documents {
        let purged = d
            .purged_at
            .map(|at| format!("  (destroyed {})", when(at)))
            .unwrap_or_default();
        writeln!(
            out,
            "  {}  {}  sha256 {}{purged}",
            d.name,
            human_size(d.size),
            d.sha256.get(..12).unwrap_or(&d.sha256)
        )?;
    }
    writeln!(out, "history")?;
    for (event, what) in history
        .iter()
        .zip(crate::core::history::described(&history))
    {
        writeln!(
            out,
            "  {}  {:<32} {what}",
            cfg.general.local_time_seconds(event.at),
            event.actor.to_string()
        )?;
    }
    Ok(())
}

/// What the listing shows of the signee: the first name, never the ID
/// number; their email and phone stay in the case emails.
fn signee(case: &Case) -> serde_json::Value {
    let full_name = case
        .application
        .as_ref()
        .map(|a| a.full_name.as_str())
        .or_else(|| case.fields.get(Field::FullName));
    let first_name = full_name.and_then(|n| n.split_whitespace().next());
    json!({
        "first_name": first_name,
        "role": case.application.as_ref().map(|a| a.role.as_str()),
    })
}
