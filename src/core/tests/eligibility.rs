//! A signee who is not eligible for the manual route.

use super::*;

/// The fields of a foreigner on a China number: WARGA_ASING, whom iDsaya
/// serves (SPEC §4 "not eligible").
fn china_fields() -> Vec<(&'static str, String)> {
    let mut f = fields();
    f[3].1 = "Passport".into();
    f[4].1 = "E12345678".into();
    f[5].1 = "China".into();
    f[7].1 = "+86 138 0013 8000".into();
    f[9].1 = "WARGA_ASING".into();
    f
}

fn passport_documents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        documents().remove(0),
        ("Passport.jpg", JPEG.to_vec()),
        documents().remove(3),
    ]
}

fn history(d: &Effects) -> Vec<&EventKind> {
    d.events.iter().map(|(_, e)| &e.what).collect()
}

#[test]
fn a_signee_idsaya_serves_is_not_eligible_and_the_case_is_rejected() {
    let mem = MemView::default();
    let raw = message(
        DEV,
        "Permohonan Sijil Digital - Wang Wei",
        "cn1@dev",
        &body(&china_fields()),
        &passport_documents(),
    );
    let d = decide_raw(&raw, &mem);
    assert_eq!(d.filing, Some(Folder::Rejected));
    let case = d.written_case().expect("a case, to answer STATUS on");
    assert_eq!(case.state, CaseState::Rejected);
    // Only the developer is answered: no EMEL 1, no call asked of staff.
    assert_eq!(
        templates(&d),
        vec![(Template::Ineligible, vec![DEV.to_string()])]
    );
    let ctx = &d.emails[0].context;
    assert_eq!(ctx["ineligible"][0]["code"], "PHONE_IDSAYA_COUNTRY");
    assert!(
        ctx["ineligible"][0]["en"]
            .as_str()
            .is_some_and(|s| s.contains("iDsaya")),
        "{ctx}"
    );
    assert_eq!(ctx["problems"], serde_json::json!([]));
    let events = history(&d);
    assert!(events.contains(&&EventKind::StateChanged {
        from: None,
        to: CaseState::Rejected
    }));
    let rejected = events.iter().find_map(|e| match e {
        EventKind::Rejected { codes, reason } => Some((codes.clone(), reason.clone())),
        _ => None,
    });
    let (codes, reason) = rejected.expect("the reason is in the history");
    assert_eq!(codes, vec!["PHONE_IDSAYA_COUNTRY".to_string()]);
    assert!(
        reason.starts_with("not eligible for the manual route: A China (+86)"),
        "{reason}"
    );
}

#[test]
fn an_ineligible_pack_also_lists_what_a_new_pack_must_correct() {
    let mem = MemView::default();
    let mut docs = passport_documents();
    docs.pop();
    let d = decide_raw(
        &message(DEV, "Permohonan", "cn2@dev", &body(&china_fields()), &docs),
        &mem,
    );
    assert_eq!(d.written_case().map(|c| c.state), Some(CaseState::Rejected));
    let ctx = &d.emails[0].context;
    assert_eq!(ctx["ineligible"].as_array().map(Vec::len), Some(1));
    assert_eq!(ctx["problems"][0]["code"], "LOA_MISSING");
}

#[test]
fn a_correction_that_makes_the_signee_ineligible_closes_the_case() {
    let mut mem = MemView::default();
    let mut f = china_fields();
    f[7].1 = "+971501234567".into();
    let mut docs = passport_documents();
    docs.pop();
    let d = decide_raw(
        &message(DEV, "Permohonan", "cn3@dev", &body(&f), &docs),
        &mem,
    );
    let reference = d
        .written_case()
        .map(|c| c.reference.clone())
        .unwrap_or_default();
    assert_eq!(codes(&d), vec!["LOA_MISSING".to_string()]);
    mem.apply(&d, &[], now());

    let reply = message(
        DEV,
        &format!("RE: [{reference}] Permohonan tidak lengkap"),
        "cn3-r@dev",
        "Nombor betul / correct number:\r\nTelefon / Phone: +86 138 0013 8000\r\n",
        &[("LOA.pdf", pdf("loa"))],
    );
    let d = decide_raw(&reply, &mem);
    assert_eq!(d.filing, Some(Folder::Rejected));
    assert_eq!(d.written_case().map(|c| c.state), Some(CaseState::Rejected));
    assert_eq!(
        templates(&d),
        vec![(Template::Ineligible, vec![DEV.to_string()])]
    );
    assert!(history(&d).contains(&&EventKind::StateChanged {
        from: Some(CaseState::Incomplete),
        to: CaseState::Rejected
    }));
}

#[test]
fn after_a_refusal_for_a_wrong_number_a_corrected_pack_opens_a_new_case() {
    let mut mem = MemView::default();
    let d = decide_raw(
        &message(
            DEV,
            "Permohonan",
            "cn4@dev",
            &body(&china_fields()),
            &passport_documents(),
        ),
        &mem,
    );
    mem.apply(&d, &[], now());
    let mut f = china_fields();
    f[7].1 = "+971501234567".into();
    let d = decide_raw(
        &message(
            DEV,
            "Permohonan",
            "cn4-new@dev",
            &body(&f),
            &passport_documents(),
        ),
        &mem,
    );
    assert_eq!(d.filing, Some(Folder::Processed));
    let case = d.written_case().expect("a new case");
    assert_eq!(case.state, CaseState::Received, "{:?}", case.problems);
    assert_eq!(case.reference, "SJL-2026-000002");
}
