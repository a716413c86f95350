//! Posting the form: the rules, cross-site posts, the PIN set (STAFF-QC
//! queued), the 410 pages and two submissions racing on one link.

use super::*;

fn good(token: &str) -> String {
    format!("pin=482915&pin2=482915&form_token={token}")
}

#[tokio::test]
async fn a_weak_pin_is_explained_in_both_languages_and_never_echoed() {
    let w = World::new();
    let reference = w.pack(1);
    let link = w.approve(&reference, Utc::now());
    let (_, page) = w.get(&link).await;
    let token = form_token(&page);
    let (res, page) = w
        .send(post(
            &link,
            &format!("pin=456789&pin2=456780&form_token={token}"),
            None,
        ))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for m in [
        crate::core::pin::Mistake::Run,
        crate::core::pin::Mistake::Mismatch,
    ] {
        let (code, ms, en) = (m.code(), m.ms(), m.en());
        assert!(page.contains(code), "{code}");
        let (at_ms, at_en) = (page.find(ms).unwrap(), page.find(en).unwrap());
        assert!(at_ms < at_en, "Malay first: {code}");
    }
    assert!(
        !page.contains("456789") && !page.contains("456780"),
        "the PIN is not echoed"
    );
    assert!(
        !page.contains("type=\"password\" value"),
        "the fields are empty again"
    );
    assert_eq!(w.case(&reference).state, CaseState::PinPending);
    assert!(w.history(&reference).iter().any(|e| matches!(
        e,
        EventKind::PinRefused { codes } if codes == &["PIN_RUN", "PIN_MISMATCH"]
    )));
}

#[tokio::test]
async fn cross_site_posts_and_posts_without_the_form_token_are_refused() {
    let w = World::new();
    let reference = w.pack(1);
    let link = w.approve(&reference, Utc::now());
    let (_, page) = w.get(&link).await;
    let token = form_token(&page);
    for (form, origin) in [
        (good(&token), Some("https://evil.example")),
        (good(&token), Some("http://127.0.0.1:8081")),
        (good(&token), Some("null")),
        ("pin=482915&pin2=482915".to_string(), None),
        (good(&"0".repeat(64)), None),
        (good("not-hex"), Some("http://127.0.0.1:8080")),
    ] {
        let (res, page) = w.send(post(&link, &form, origin)).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{form} from {origin:?}"
        );
        assert!(
            page.contains("ditolak") && page.contains("refused"),
            "{page}"
        );
    }
    // Another link's form token is no key to this one.
    let other = w.pack(2);
    let other_link = w.approve(&other, Utc::now());
    let (res, _) = w.send(post(&other_link, &good(&token), None)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A browser's own cross-site marker is enough.
    let mut req = post(&link, &good(&token), None);
    req.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    let (res, _) = w.send(req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        w.case(&reference).state,
        CaseState::PinPending,
        "nothing changed"
    );
    assert!(w.outbox(Template::StaffQc).is_empty());
}

#[tokio::test]
async fn a_good_pin_sets_it_asks_qc_and_the_link_is_then_gone() {
    let w = World::new();
    let reference = w.pack(1);
    let link = w.approve(&reference, Utc::now());
    let (_, page) = w.get(&link).await;
    let token = form_token(&page);
    let (res, page) = w
        .send(post(&link, &good(&token), Some("http://127.0.0.1:8080")))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{page}");
    assert!(
        page.contains("telah ditetapkan") && page.contains("is set"),
        "{page}"
    );
    let case = w.case(&reference);
    assert_eq!(case.state, CaseState::PinSet);
    let hash = case.pin.hash.clone().unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains("482915"));
    assert_eq!(
        w.outbox(Template::StaffQc),
        vec![vec!["chong@ra.example.my".to_string()]]
    );
    let history = w.history(&reference);
    assert!(history.contains(&EventKind::PinSet));
    assert!(
        history
            .iter()
            .any(|e| matches!(e, EventKind::PinLinkUsed { number: 1 }))
    );

    for req in [
        Request::get(&link).body(Body::empty()).unwrap(),
        post(&link, &good(&token), None),
    ] {
        let (res, page) = w.send(req).await;
        assert_eq!(res.status(), StatusCode::GONE);
        assert!(
            page.contains("telah digunakan") && page.contains("already been used"),
            "{page}"
        );
    }
    assert_eq!(w.outbox(Template::StaffQc).len(), 1, "still one STAFF-QC");
}

#[tokio::test]
async fn expired_and_replaced_links_get_410_pages_that_say_which() {
    let w = World::new();
    let old = w.pack(1);
    let expired = w.approve(&old, Utc::now() - TimeDelta::hours(73));
    let (res, page) = w.get(&expired).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(
        page.contains("tamat tempoh") && page.contains("has expired") && page.contains("RESEND")
    );

    let reference = w.pack(2);
    let first = w.approve(&reference, Utc::now());
    let (_, page) = w.get(&first).await;
    let token = form_token(&page);
    let second = w.approve(&reference, Utc::now());
    assert_ne!(first, second);
    let (res, page) = w.send(post(&first, &good(&token), None)).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(
        page.contains("digantikan") && page.contains("has been replaced"),
        "{page}"
    );
    let (res, _) = w.get(&second).await;
    assert_eq!(res.status(), StatusCode::OK, "the newer link works");
    assert_eq!(w.case(&reference).state, CaseState::PinPending);
    assert!(w.history(&reference).iter().any(|e| matches!(
        e,
        EventKind::PinLinkRefused { why, visit } if why == "replaced" && visit == "set_pin"
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_submissions_set_the_pin_once() {
    let w = World::new();
    let reference = w.pack(1);
    let link = w.approve(&reference, Utc::now());
    let (_, page) = w.get(&link).await;
    let token = form_token(&page);
    let one = app(w.state.clone()).oneshot(post(&link, &good(&token), None));
    let two = app(w.state.clone()).oneshot(post(&link, &good(&token), None));
    let (one, two) = tokio::join!(tokio::spawn(one), tokio::spawn(two));
    let mut statuses = vec![
        one.unwrap().unwrap().status(),
        two.unwrap().unwrap().status(),
    ];
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::GONE]);
    assert_eq!(w.case(&reference).state, CaseState::PinSet);
    assert_eq!(w.outbox(Template::StaffQc).len(), 1, "one STAFF-QC");
    let sets = w
        .history(&reference)
        .iter()
        .filter(|e| **e == EventKind::PinSet)
        .count();
    assert_eq!(sets, 1);
}

#[tokio::test]
async fn the_commit_itself_refuses_a_second_use_decided_before_the_first() {
    let w = World::new();
    let reference = w.pack(1);
    let link = w.approve(&reference, Utc::now());
    let sha = crate::core::pin::token_sha256(link.trim_start_matches("/pin/"));
    let applier = &w.state.applier;
    let now = Utc::now();
    let hash = crate::web::hashing::argon2id(b"482915").unwrap();
    // Both decided on the same view, before either is committed.
    let decide = || {
        let input = Input::Pin {
            token_sha256: &sha,
            visit: crate::core::pin::Visit::Set(crate::core::pin::PinHash(&hash), None),
        };
        crate::core::handle(input, w.store(), applier.cfg(), now).unwrap()
    };
    let (first, second) = (decide(), decide());
    assert_eq!(first.cases.len(), 1);
    assert_eq!(second.cases.len(), 1);
    let origin = Origin::PinLink {
        token_sha256: &sha,
        uses_link: true,
    };
    applier.apply(origin, "a", &first, &[], now).unwrap();
    let again = applier.apply(origin, "b", &second, &[], now);
    assert!(
        matches!(
            again,
            Err(crate::apply::ApplyError::Store(
                crate::edge::store::StoreError::LinkSpent
            ))
        ),
        "{again:?}"
    );
    assert_eq!(w.outbox(Template::StaffQc).len(), 1);
}

#[tokio::test]
async fn a_mailbox_decision_read_before_the_pin_was_set_does_not_undo_it() {
    let w = World::new();
    let reference = w.pack(1);
    let link = w.approve(&reference, Utc::now());
    let stale = w.case(&reference);
    let (_, page) = w.get(&link).await;
    let (res, _) = w.send(post(&link, &good(&form_token(&page)), None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // A command decided on the case as it was before (RESEND, say).
    let mut effects = Effects::default();
    let mut case = stale;
    crate::core::pin::issue_link(&mut case, &mut effects, w.state.applier.cfg(), Utc::now());
    effects.cases.push(CaseWrite { case, new: None });
    let result = w.state.applier.apply(
        Origin::Message { key: "late" },
        "late",
        &effects,
        &[],
        Utc::now(),
    );
    assert!(
        matches!(
            result,
            Err(crate::apply::ApplyError::Store(
                crate::edge::store::StoreError::Conflict(_)
            ))
        ),
        "{result:?}"
    );
    assert_eq!(
        w.case(&reference).state,
        CaseState::PinSet,
        "decided again, not written over"
    );
}
