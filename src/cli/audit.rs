//! `sijil audit verify REF`: checks the hash chain of a case's or an eSPA's
//! history (SPEC §7a) on a store the daemon is not using, and says where
//! it is broken: which event (its place, time and kind) and why.

use std::io::Write;

use crate::config::Config;
use crate::edge::store::{AuditReport, Store};

use super::out::Stop;

/// Prints the outcome; a broken chain or an unknown reference is a
/// failure (exit 1).
pub(super) fn verify(
    store: &Store,
    cfg: &Config,
    reference: &str,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    let (shown, report) = find(store, reference)?;
    let Some(report) = report else {
        return Err(format!("nothing is recorded under {shown}: no such case or eSPA").into());
    };
    let events = match report.checked {
        1 => "1 event".to_string(),
        n => format!("{n} events"),
    };
    let Some(problem) = &report.problem else {
        writeln!(out, "{shown}: {events}, chain intact")?;
        return Ok(());
    };
    let mut about = Vec::new();
    if let Some(at) = problem.at {
        about.push(cfg.general.local_time_seconds(at));
    }
    if let Some(kind) = &problem.kind {
        about.push(kind.replace('_', " "));
    }
    let about = if about.is_empty() {
        String::new()
    } else {
        format!(" ({})", about.join(", "))
    };
    let place = problem
        .seq
        .map(|seq| format!("event {seq}"))
        .unwrap_or_else(|| "a record".into());
    writeln!(
        out,
        "{shown}: {events} checked, chain BROKEN at {place}{about}: {}",
        problem.why
    )?;
    Err(format!("the audit trail of {shown} is broken").into())
}

/// The reference as the operator means it, and its chain's report: a
/// case (`SJL-…`) is kept under its reference, an eSPA (`HDA-…`) under
/// `eSPA HDA-…`; either may be typed in any case, the eSPA with or
/// without its prefix.
fn find(store: &Store, typed: &str) -> Result<(String, Option<AuditReport>), Stop> {
    let typed = typed.trim();
    let bare = match typed.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("espa ") => &typed[5..],
        _ => typed,
    };
    let reference = bare.trim().to_uppercase();
    if let Some(report) = store.audit(&reference)? {
        return Ok((reference, Some(report)));
    }
    let espa = crate::core::espa::thread_ref(&reference);
    Ok((reference, store.audit(&espa)?))
}
