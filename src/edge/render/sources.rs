//! The template sources compiled into the binary: the three parts of each
//! [`Template`], the partials of each registry, and a context that fills
//! every field the templates read (for the start-up self-test).
//!
//! `include_str!` makes the daemon independent of its working directory; the
//! exhaustive match in [`sources`] makes a new [`Template`] without its files
//! a compile error.

use serde_json::{Value, json};

use crate::core::email::Template;

/// The three parts of one template, each a Handlebars source.
pub(super) struct Sources {
    pub(super) subject: &'static str,
    pub(super) text: &'static str,
    pub(super) html: &'static str,
}

macro_rules! template_sources {
    ($stem:literal) => {
        Sources {
            subject: include_str!(concat!("../../../templates/", $stem, ".subject.hbs")),
            text: include_str!(concat!("../../../templates/", $stem, ".txt.hbs")),
            html: include_str!(concat!("../../../templates/", $stem, ".html.hbs")),
        }
    };
}

/// The sources of a template. An exhaustive match, so adding a [`Template`]
/// variant without its files does not compile.
pub(super) fn sources(template: Template) -> Sources {
    match template {
        Template::Ack => template_sources!("ack"),
        Template::Incomplete => template_sources!("incomplete"),
        Template::Ineligible => template_sources!("ineligible"),
        Template::Duplicate => template_sources!("duplicate"),
        Template::Emel1 => template_sources!("emel1"),
        Template::StaffVerify => template_sources!("staff-verify"),
        Template::Bounce => template_sources!("bounce"),
        Template::StaffGenerate => template_sources!("staff-generate"),
        Template::Emel3 => template_sources!("emel3"),
        Template::Rejected => template_sources!("rejected"),
        Template::Unreachable => template_sources!("unreachable"),
        Template::Withdrawn => template_sources!("withdrawn"),
        Template::Status => template_sources!("status"),
        Template::CommandAck => template_sources!("command-ack"),
        Template::CommandError => template_sources!("command-error"),
        Template::SigneeMessage => template_sources!("signee-message"),
        Template::Emel2 => template_sources!("emel2"),
        Template::StaffQc => template_sources!("staff-qc"),
        Template::EspaIncomplete => template_sources!("espa-incomplete"),
        Template::EspaAck => template_sources!("espa-ack"),
        Template::Emel0 => template_sources!("emel0"),
        Template::EspaStatus => template_sources!("espa-status"),
        Template::Emel4 => template_sources!("emel4"),
        Template::SignCode => template_sources!("sign-code"),
        Template::Signed => template_sources!("signed"),
        Template::EspaProgress => template_sources!("espa-progress"),
        Template::Completed => template_sources!("completed"),
        Template::EspaDeclined => template_sources!("espa-declined"),
        Template::PinLocked => template_sources!("pin-locked"),
    }
}

/// Partials of the text registry (subject and `.txt` parts).
pub(super) const TEXT_PARTIALS: [(&str, &str); 7] = [
    (
        "notices",
        include_str!("../../../templates/partials/notices.txt.hbs"),
    ),
    (
        "footer",
        include_str!("../../../templates/partials/footer.txt.hbs"),
    ),
    (
        "summary",
        include_str!("../../../templates/partials/summary.txt.hbs"),
    ),
    (
        "documents",
        include_str!("../../../templates/partials/documents.txt.hbs"),
    ),
    (
        "document_names",
        include_str!("../../../templates/partials/document_names.txt.hbs"),
    ),
    (
        "brief",
        include_str!("../../../templates/partials/brief.txt.hbs"),
    ),
    (
        "espa_signees",
        include_str!("../../../templates/partials/espa_signees.txt.hbs"),
    ),
];

/// Partials of the HTML registry.
pub(super) const HTML_PARTIALS: [(&str, &str); 8] = [
    (
        "notices",
        include_str!("../../../templates/partials/notices.html.hbs"),
    ),
    (
        "layout",
        include_str!("../../../templates/partials/layout.html.hbs"),
    ),
    (
        "footer",
        include_str!("../../../templates/partials/footer.html.hbs"),
    ),
    (
        "summary",
        include_str!("../../../templates/partials/summary.html.hbs"),
    ),
    (
        "documents",
        include_str!("../../../templates/partials/documents.html.hbs"),
    ),
    (
        "document_names",
        include_str!("../../../templates/partials/document_names.html.hbs"),
    ),
    (
        "brief",
        include_str!("../../../templates/partials/brief.html.hbs"),
    ),
    (
        "espa_signees",
        include_str!("../../../templates/partials/espa_signees.html.hbs"),
    ),
];

/// A context with every field the templates read, for the start-up
/// self-test (and the unit tests).
pub(super) fn sample_context() -> Value {
    let mut sample = ra_sample();
    if let (Value::Object(all), Value::Object(espa)) = (&mut sample, espa_sample()) {
        all.extend(espa);
    }
    if let (Value::Object(all), Value::Object(signing)) = (&mut sample, signing_sample()) {
        all.extend(signing);
    }
    // `signee` is a case's signee in the case emails and an eSPA signee in
    // the signing emails: one sample signee carries both sets of fields.
    if let Some(Value::Object(signee)) = sample.get_mut("signee") {
        signee.extend([
            ("route".to_owned(), json!("manual")),
            ("state".to_owned(), json!("ready")),
            ("state_ms".to_owned(), json!("sedia untuk menandatangani")),
            ("state_en".to_owned(), json!("ready to sign")),
            ("case".to_owned(), json!("SJL-2026-000001")),
        ]);
    }
    sample
}

/// The signing emails' part of [`sample_context`] (EMEL 4, CODE, SIGNED,
/// ESPA-PROGRESS, COMPLETED, ESPA-DECLINED, PIN-LOCKED); `reason` is
/// REJECTED's, also read by ESPA-DECLINED.
fn signing_sample() -> Value {
    let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    json!({
        // EMEL 4
        "sign_url": "https://sign.example.my/sign/sample-token",
        "sign_link": { "days": 7, "number": 2 },
        "needs_pin": true,
        "signed_before": [
            { "order": 1, "role": "Pemaju", "role_en": "Developer",
              "name": "Tan Sri Lim Holdings Sdn Bhd (Lim Ah Kow)", "at": "2026-12-03 13:14 +08:00" }
        ],
        // CODE
        "code": "482913",
        "minutes": 10,
        // SIGNED, ESPA-PROGRESS
        "signature": {
            "at": "2026-12-04 10:02 +08:00", "route": "manual", "document_sha256": sha256
        },
        // ESPA-PROGRESS
        "signer": {
            "order": 2, "role": "Pembeli", "role_en": "Buyer", "name": "Ali bin Abu",
            "email": "ali@example.com", "route": "manual", "state": "signed",
            "state_ms": "telah menandatangani", "state_en": "signed", "case": "SJL-2026-000001"
        },
        "next": {
            "order": 3, "role": "Saksi", "role_en": "Witness", "name": "Siti binti Ahmad",
            "email": "siti@example.com", "route": "idsaya", "state": "waiting",
            "state_ms": "menunggu", "state_en": "waiting", "case": null
        },
        "remaining": 1,
        "next_waiting": true,
        // COMPLETED
        "signatures": [
            { "order": 1, "role": "Pemaju", "role_en": "Developer",
              "name": "Tan Sri Lim Holdings Sdn Bhd (Lim Ah Kow)", "route": "idsaya",
              "at": "2026-12-03 13:14 +08:00" },
            { "order": 2, "role": "Pembeli", "role_en": "Buyer", "name": "Ali bin Abu",
              "route": "manual", "at": "2026-12-04 10:02 +08:00" }
        ],
        "document_sha256": sha256,
        // ESPA-DECLINED
        "at": "2026-12-04 10:02 +08:00",
        // PIN-LOCKED
        "failures": 5,
        "espa_ref": "HDA-2026-000123",
    })
}

/// The eSPA emails' part of [`sample_context`].
fn espa_sample() -> Value {
    json!({
        // ESPA-ACK, ESPA-INCOMPLETE, EMEL 0, ESPA-STATUS
        "correction": false,
        "espa": {
            "reference": "HDA-2026-000123",
            "project": "Taman Seri Indah Fasa 2, Lot 12",
            "document": {
                "name": "eSPA HDA-2026-000123.pdf", "size": "120 KB",
                "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            },
            "signees": [
                { "order": 1, "role": "Pemaju", "role_en": "Developer",
                  "name": "Tan Sri Lim Holdings Sdn Bhd (Lim Ah Kow)", "email": "lim@developer.my",
                  "route": "idsaya", "state": "waiting", "state_ms": "menunggu",
                  "state_en": "waiting", "case": null },
                { "order": 2, "role": "Pembeli", "role_en": "Buyer", "name": "Ali bin Abu",
                  "email": "ali@example.com", "route": "manual", "state": "ready",
                  "state_ms": "sedia untuk menandatangani", "state_en": "ready to sign",
                  "case": "SJL-2026-000001" }
            ]
        },
    })
}

/// The case emails' part of [`sample_context`].
fn ra_sample() -> Value {
    json!({
        "ref": "SJL-2026-000001",
        "company": "Seri Indah Development Sdn Bhd",
        "signee": {
            "name": "Ali bin Abu", "email": "ali@example.com", "phone": "+971501234567",
            "role": "Pembeli", "role_en": "Buyer", "order": 2, "espa_ref": "HDA-2026-000123",
            "id_type": "MyKad", "id_masked": "900101-14-****", "nationality": "Malaysia",
            "reason": "LUAR_NEGARA"
        },
        "documents": [
            { "kind_ms": "Kad Pengenalan (depan)", "kind_en": "MyKad (front)",
              "name": "MyKad depan.jpg", "size": "21 KB", "sha256": "ab12cd34…" }
        ],
        "problems": [
            { "code": "LOA_MISSING", "ms": "Surat Kebenaran (LOA) tiada.", "en": "The LOA is missing." }
        ],
        "ineligible": [
            { "code": "PHONE_IDSAYA_COUNTRY", "ms": "Nombor telefon China (+86) tidak layak.",
              "en": "A China (+86) phone number is not eligible." }
        ],
        "notices": [
            { "code": "DOCUMENTS_SAME_FILE", "ms": "Dua dokumen ialah fail yang sama.",
              "en": "Two documents are the same file." }
        ],
        "existing": { "ref": "SJL-2026-000001", "state": "received" },
        "bounce": { "recipient": "ali@example.com", "status": "5.1.1" },
        "state": "verified",
        "pin_url": "https://sign.example.my/pin/sample-token",
        "pin_link": { "hours": 72, "number": 1 },
        "pin_set_at": "2026-11-25 09:00 UTC",
        "state_ms": "disahkan, menunggu penjanaan sijil",
        "state_en": "verified, waiting for the certificate to be generated",
        // REJECTED
        "reason": "Salinan MyKad tidak jelas / The MyKad copy is not legible",
        // UNREACHABLE
        "attempts": 3,
        // STATUS
        "history": [
            { "at": "2026-03-04 13:06 +08:00", "actor": "submit@seriindah.my",
              "what": "opened as received" },
            { "at": "2026-03-05 17:30 +08:00", "actor": "Siti (verifier)", "what": "VERIFIED" }
        ],
        // COMMAND-ACK
        "command": "VERIFIED",
        "argument": "Disahkan melalui panggilan video",
        "before": "received",
        "unreachable": 1,
        // COMMAND-ERROR
        "line": "LULUSKAN SEGERA",
        "reason_ms": "Arahan ini tidak dikenali.",
        "reason_en": "This command is not known.",
        "allowed": ["APPROVED", "REJECT", "NOTE", "STATUS"],
        // SIGNEE-MESSAGE
        "message": {
            "subject": "Re: Permohonan Sijil Digital",
            "text": "Salam,\nsaya akan berada di Dubai sehingga Jumaat.\n\nTerima kasih.",
            "attachments": [
                { "name": "pasport.pdf", "size": "88 KB", "content_type": "application/pdf" }
            ]
        }
    })
}
