//! Ticks of the clock: forgetting, and purging what is due.

use super::*;

#[test]
fn a_tick_forgets_past_reply_counters_and_old_records_and_purges_what_is_due() {
    let cfg = cfg();
    let d = handle(Input::Tick, &MemView::default(), &cfg, now()).expect("the view reads");
    assert_eq!(d.forget_reply_counters_before, Some(now()));
    assert_eq!(
        d.forget_messages_before,
        Some(now() - chrono::TimeDelta::days(cfg.store.remember_messages_days.into()))
    );
    assert!(d.cases.is_empty() && d.events.is_empty() && d.emails.is_empty());
    assert_eq!(d.filing, None);

    // A rejected case: nothing before purge_after_days, its documents
    // (all but the LOA) after.
    let mut mem = MemView::default();
    let opened = decide_raw(
        &message(DEV, "Permohonan", "p12@dev", &body(&fields()), &documents()),
        &mem,
    );
    mem.apply(&opened, &[], now());
    mem.cases[0].state = CaseState::Rejected;
    let keep = chrono::TimeDelta::days(cfg.store.purge_after_days.into());
    let early = handle(
        Input::Tick,
        &mem,
        &cfg,
        now() + keep - chrono::TimeDelta::days(1),
    );
    assert!(early.expect("the view reads").cases.is_empty());
    let due = handle(
        Input::Tick,
        &mem,
        &cfg,
        now() + keep + chrono::TimeDelta::days(1),
    )
    .expect("the view reads");
    let case = &due.cases[0].case;
    let purged: Vec<&str> = case
        .documents
        .iter()
        .filter(|d| d.purged_at.is_some())
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(purged.len(), 3, "{purged:?}");
    assert!(purged.iter().all(|n| !n.contains("Authorisation")));
    assert_eq!(due.destroy_documents.len(), 3, "form and both MyKad sides");
    assert!(matches!(
        &due.events[0].1.what,
        EventKind::DocumentsPurged { documents } if documents.len() == 3
    ));
    // An unreadable store decides no purge.
    assert!(handle(Input::Tick, &super::failing_view::Unreadable, &cfg, now()).is_err());
}
