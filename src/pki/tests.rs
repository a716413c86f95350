use chrono::Utc;

use super::certificate::Subject;
use super::crl::Revoked;
use super::pades::{self, KeySigner, Placement};
use super::seal;
use super::verify::{crl_serials, verify};
use super::{Authority, CaError};

/// A one-page PDF, as a developer's tool writes one.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\nxref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \ntrailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n186\n%%EOF\n";

fn ca(dir: &std::path::Path) -> Authority {
    let cfg = Authority::init(dir, "sijil test CA", Utc::now()).unwrap();
    Authority::load(&cfg, "POS Digicert RA", Utc::now()).unwrap()
}

fn subject() -> Subject<'static> {
    Subject {
        full_name: "Ali bin Abu",
        id_kind: "MyKad",
        nationality: "Malaysia",
        id_digest: "5f2a9c0e11d3b7a4c6e8f0a1b2c3d4e5f6a7b8c9",
    }
}

#[test]
fn a_key_sealed_under_the_pin_opens_only_with_it_and_only_for_its_case() {
    let mut blocks = seal::blocks();
    let sealed = seal::make_sealed(b"482915", "SJL-2026-000001", &mut blocks, Utc::now()).unwrap();
    let opened = seal::unseal(&sealed, b"482915", "SJL-2026-000001", &mut blocks).unwrap();
    assert!(opened.is_some_and(|k| k.len() > 100));
    assert!(
        seal::unseal(&sealed, b"482916", "SJL-2026-000001", &mut blocks)
            .unwrap()
            .is_none(),
        "a wrong PIN does not open it"
    );
    assert!(
        seal::unseal(&sealed, b"482915", "SJL-2026-000002", &mut blocks)
            .unwrap()
            .is_none(),
        "copied to another case, it does not open"
    );
    let json = serde_json::to_string(&sealed).unwrap();
    assert!(!format!("{sealed:?}").contains(&sealed.sealed));
    assert!(!json.contains("PRIVATE"));
}

#[test]
fn two_signatures_in_turn_both_verify_and_one_changed_byte_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let authority = ca(dir.path());
    let mut blocks = seal::blocks();
    let mut pdf = PDF.to_vec();
    let mut serials = Vec::new();
    for (i, reference) in ["SJL-2026-000001", "SJL-2026-000002"].iter().enumerate() {
        let sealed = seal::make_sealed(b"482915", reference, &mut blocks, Utc::now()).unwrap();
        let spki = seal::public_key(&sealed).unwrap();
        let issued = authority.issue(&subject(), &spki, Utc::now()).unwrap();
        serials.push(issued.serial.clone());
        let key = seal::unseal(&sealed, b"482915", reference, &mut blocks)
            .unwrap()
            .unwrap();
        let signer = KeySigner::from_pkcs8(
            &key,
            vec![issued.der.clone(), authority.certificate_der().to_vec()],
        )
        .unwrap();
        let field = format!("Signee{}", i + 1);
        pdf = pades::sign(
            &pdf,
            &signer,
            &Placement {
                field: &field,
                reason: "eSPA HDA-2026-000123: signed at 2026-12-03T05:14:00Z",
                location: "Malaysia",
                contact: "ali@example.com",
                at: Utc::now(),
            },
        )
        .unwrap();
    }
    assert!(
        pdf.starts_with(PDF),
        "an incremental update keeps the bytes"
    );
    let anchors = vec![authority.certificate_der().to_vec()];
    let report = verify(&pdf, &anchors, &[]).unwrap();
    assert_eq!(report.signatures.len(), 2);
    assert!(report.all_hold(), "{report:?}");
    assert_eq!(
        report.signatures[0].serial.as_deref(),
        Some(serials[0].as_str())
    );

    let other = tempfile::tempdir().unwrap();
    let stranger = ca(other.path());
    let foreign = verify(&pdf, &[stranger.certificate_der().to_vec()], &[]).unwrap();
    assert!(!foreign.all_hold(), "another CA does not anchor it");

    let revoked = verify(&pdf, &anchors, &serials[..1]).unwrap();
    assert!(revoked.signatures[0].revoked && !revoked.all_hold());

    let mut changed = pdf.clone();
    let at = PDF.len() / 2;
    changed[at] ^= 0x01;
    let report = verify(&changed, &anchors, &[]).unwrap();
    assert!(!report.signatures[0].intact, "{report:?}");
    assert!(!report.all_hold());
}

/// The PDF a small tool writes: no xref at all, a page tree of no pages.
const SLOPPY: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n3 0 obj << /Length 5 >> stream\nBT ET\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

#[test]
fn a_pdf_without_a_cross_reference_table_is_signed_after_its_table_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let authority = ca(dir.path());
    let attestation = authority.attestation();
    let signer = KeySigner::new(
        attestation.key.clone(),
        vec![
            attestation.cert_der.clone(),
            authority.certificate_der().to_vec(),
        ],
    )
    .unwrap();
    let placement = Placement {
        field: "Attestation1",
        reason: "iDsaya consent",
        location: "Malaysia",
        contact: "lim@developer.my",
        at: Utc::now(),
    };
    let signed = pades::sign(SLOPPY, &signer, &placement).unwrap();
    assert!(signed.starts_with(SLOPPY), "the original bytes are kept");
    let report = verify(&signed, &[authority.certificate_der().to_vec()], &[]).unwrap();
    assert!(report.all_hold(), "{report:?}");
}

#[test]
fn the_crl_lists_what_was_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let authority = ca(dir.path());
    let mut blocks = seal::blocks();
    let sealed = seal::make_sealed(b"1", "SJL-1", &mut blocks, Utc::now()).unwrap();
    let issued = authority
        .issue(&subject(), &seal::public_key(&sealed).unwrap(), Utc::now())
        .unwrap();
    let pem = authority
        .crl(
            &[Revoked {
                serial: &issued.serial,
                at: Utc::now(),
            }],
            1,
            Utc::now(),
        )
        .unwrap();
    assert_eq!(crl_serials(pem.as_bytes()).unwrap(), vec![issued.serial]);
}

#[test]
fn a_ca_is_never_overwritten_and_a_key_of_another_ca_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Authority::init(dir.path(), "one", Utc::now()).unwrap();
    assert!(matches!(
        Authority::init(dir.path(), "two", Utc::now()),
        Err(CaError::Exists(_))
    ));
    let other = tempfile::tempdir().unwrap();
    let second = Authority::init(other.path(), "two", Utc::now()).unwrap();
    let mixed = crate::config::CaConfig {
        certificate: cfg.certificate.clone(),
        key: second.key.clone(),
    };
    assert!(matches!(
        Authority::load(&mixed, "RA", Utc::now()),
        Err(CaError::Mismatch)
    ));
    let late = Utc::now() + chrono::Duration::days(365 * 11);
    assert!(matches!(
        Authority::load(&cfg, "RA", late),
        Err(CaError::Expired(_))
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cfg.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
