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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::core::Effects;
    use crate::core::case::{Actor, Event, EventKind};
    use crate::edge::store::Origin;

    fn verified(store: &Store, typed: &str) -> (Result<(), String>, String) {
        let mut out = Vec::new();
        let result = verify(store, &Config::embedded_default(), typed, &mut out);
        let result = result.map_err(|e| match e {
            Stop::Failed(e) | Stop::Config(e) => e,
            Stop::Output(e) => e.to_string(),
        });
        (result, String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn an_espa_is_found_by_its_own_reference_and_an_unknown_one_is_said() {
        let store = Store::temporary().unwrap();
        let espa = crate::core::espa::thread_ref("HDA-2026-000123");
        let event = Event {
            at: Utc::now(),
            actor: Actor::System,
            what: EventKind::CodeSent { order: 1 },
        };
        let effects = Effects {
            events: vec![(espa.clone(), event.clone()), (espa, event)],
            ..Effects::default()
        };
        store
            .commit(Origin::Clock, &effects, &[], &[], Utc::now())
            .unwrap();
        for typed in [
            "HDA-2026-000123",
            " hda-2026-000123",
            "eSPA HDA-2026-000123",
        ] {
            let (result, said) = verified(&store, typed);
            assert_eq!(result, Ok(()), "{typed}");
            assert_eq!(said, "HDA-2026-000123: 2 events, chain intact\n");
        }
        let (result, said) = verified(&store, "SJL-2026-000404");
        assert_eq!(
            result,
            Err("nothing is recorded under SJL-2026-000404: no such case or eSPA".into())
        );
        assert_eq!(said, "");
    }
}
