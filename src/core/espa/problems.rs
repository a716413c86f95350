//! What an eSPA registration check reports: stable codes (stored in the
//! eSPA's history) and, for each, one sentence in Malay and one in English.
//! The same shape as a pack's [`crate::pack_check::Problem`], so the
//! templates list both the same way (`code`, `ms`, `en`).

use serde::{Deserialize, Serialize};

/// Why a registration (or a correction) cannot be taken. The
/// `SCREAMING_SNAKE_CASE` form ([`EspaCode::id`]) is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EspaCode {
    EspaRefMissing,
    /// Not like `HDA-2026-000123`; `about` is what was written.
    EspaRefInvalid,
    ProjectMissing,
    SigneesMissing,
    /// Not `order. role | name | email | route`; `about` is the line.
    SigneeLineInvalid,
    /// Orders do not run 1..n; `about` is the missing order.
    OrderGap,
    /// `about` is the order written twice.
    OrderRepeated,
    /// `about` is the order of the signee.
    SigneeRoleInvalid,
    SigneeNameInvalid,
    SigneeEmailInvalid,
    /// `about` is the address given to two signees.
    SigneeEmailRepeated,
    SigneeRouteInvalid,
    PdfMissing,
    /// More than one attachment; `about` is how many.
    PdfTooMany,
    /// The attachment is not a PDF (by its name or its bytes); `about` is its name.
    AttachmentNotPdf,
    AttachmentEmpty,
    AttachmentTooLarge,
    MessageTooLarge,
    /// An eSPA with this reference is registered; `about` is the reference.
    EspaExists,
}

impl EspaCode {
    pub const ALL: [EspaCode; 19] = [
        EspaCode::EspaRefMissing,
        EspaCode::EspaRefInvalid,
        EspaCode::ProjectMissing,
        EspaCode::SigneesMissing,
        EspaCode::SigneeLineInvalid,
        EspaCode::OrderGap,
        EspaCode::OrderRepeated,
        EspaCode::SigneeRoleInvalid,
        EspaCode::SigneeNameInvalid,
        EspaCode::SigneeEmailInvalid,
        EspaCode::SigneeEmailRepeated,
        EspaCode::SigneeRouteInvalid,
        EspaCode::PdfMissing,
        EspaCode::PdfTooMany,
        EspaCode::AttachmentNotPdf,
        EspaCode::AttachmentEmpty,
        EspaCode::AttachmentTooLarge,
        EspaCode::MessageTooLarge,
        EspaCode::EspaExists,
    ];

    pub fn id(self) -> &'static str {
        match self {
            EspaCode::EspaRefMissing => "ESPA_REF_MISSING",
            EspaCode::EspaRefInvalid => "ESPA_REF_INVALID",
            EspaCode::ProjectMissing => "PROJECT_MISSING",
            EspaCode::SigneesMissing => "SIGNEES_MISSING",
            EspaCode::SigneeLineInvalid => "SIGNEE_LINE_INVALID",
            EspaCode::OrderGap => "ORDER_GAP",
            EspaCode::OrderRepeated => "ORDER_REPEATED",
            EspaCode::SigneeRoleInvalid => "SIGNEE_ROLE_INVALID",
            EspaCode::SigneeNameInvalid => "SIGNEE_NAME_INVALID",
            EspaCode::SigneeEmailInvalid => "SIGNEE_EMAIL_INVALID",
            EspaCode::SigneeEmailRepeated => "SIGNEE_EMAIL_REPEATED",
            EspaCode::SigneeRouteInvalid => "SIGNEE_ROUTE_INVALID",
            EspaCode::PdfMissing => "PDF_MISSING",
            EspaCode::PdfTooMany => "PDF_TOO_MANY",
            EspaCode::AttachmentNotPdf => "ATTACHMENT_NOT_PDF",
            EspaCode::AttachmentEmpty => "ATTACHMENT_EMPTY",
            EspaCode::AttachmentTooLarge => "ATTACHMENT_TOO_LARGE",
            EspaCode::MessageTooLarge => "MESSAGE_TOO_LARGE",
            EspaCode::EspaExists => "ESPA_EXISTS",
        }
    }

    /// The sentences; `{a}` is the problem's `about`.
    fn sentences(self) -> (&'static str, &'static str) {
        match self {
            EspaCode::EspaRefMissing => (
                "Rujukan eSPA tiada: sila tambah baris \"Rujukan eSPA / eSPA Reference: …\".",
                "The eSPA Reference is missing: please add the line \"Rujukan eSPA / eSPA Reference: …\".",
            ),
            EspaCode::EspaRefInvalid => (
                "Rujukan eSPA \"{a}\" tidak sah: tulis seperti HDA-2026-000123.",
                "The eSPA Reference \"{a}\" is not valid: write it like HDA-2026-000123.",
            ),
            EspaCode::ProjectMissing => (
                "Nama projek tiada: sila tambah baris \"Projek / Project: …\".",
                "The project is missing: please add the line \"Projek / Project: …\".",
            ),
            EspaCode::SigneesMissing => (
                "Senarai penandatangan tiada: selepas baris \"Penandatangan / Signees:\", tulis satu baris bagi setiap penandatangan dalam bentuk \"1. peranan | nama | emel | idsaya atau manual\".",
                "The list of signees is missing: after the line \"Penandatangan / Signees:\", write one line per signee as \"1. role | name | email | idsaya or manual\".",
            ),
            EspaCode::SigneeLineInvalid => (
                "Baris penandatangan \"{a}\" tidak dapat dibaca: tulis dalam bentuk \"1. peranan | nama | emel | idsaya atau manual\".",
                "The signee line \"{a}\" cannot be read: write it as \"1. role | name | email | idsaya or manual\".",
            ),
            EspaCode::OrderGap => (
                "Turutan penandatangan mesti bermula dari 1 tanpa jurang: turutan {a} tiada.",
                "The signing orders must run from 1 without a gap: order {a} is missing.",
            ),
            EspaCode::OrderRepeated => (
                "Turutan {a} diberikan kepada lebih daripada seorang penandatangan.",
                "Order {a} is given to more than one signee.",
            ),
            EspaCode::SigneeRoleInvalid => (
                "Peranan penandatangan turutan {a} mesti salah satu: Pembeli, Saksi, Tuan Tanah atau Pemaju.",
                "The role of signee {a} must be one of Pembeli (Buyer), Saksi (Witness), Tuan Tanah (Landowner) or Pemaju (Developer).",
            ),
            EspaCode::SigneeNameInvalid => (
                "Nama penandatangan turutan {a} tiada atau tidak sah.",
                "The name of signee {a} is missing or not valid.",
            ),
            EspaCode::SigneeEmailInvalid => (
                "Alamat emel penandatangan turutan {a} tidak sah.",
                "The email address of signee {a} is not valid.",
            ),
            EspaCode::SigneeEmailRepeated => (
                "Alamat emel {a} diberikan kepada lebih daripada seorang penandatangan: setiap penandatangan memerlukan alamat sendiri.",
                "The email address {a} is given to more than one signee: each signee needs their own address.",
            ),
            EspaCode::SigneeRouteInvalid => (
                "Laluan penandatangan turutan {a} mesti idsaya atau manual.",
                "The route of signee {a} must be idsaya or manual.",
            ),
            EspaCode::PdfMissing => (
                "Dokumen eSPA tiada: lampirkan satu fail PDF, iaitu perjanjian yang akan ditandatangani.",
                "The eSPA document is missing: attach one PDF file, the agreement to be signed.",
            ),
            EspaCode::PdfTooMany => (
                "Emel ini mempunyai {a} lampiran: lampirkan satu fail PDF sahaja, iaitu perjanjian yang akan ditandatangani.",
                "This email has {a} attachments: attach one PDF file only, the agreement to be signed.",
            ),
            EspaCode::AttachmentNotPdf => (
                "Lampiran \"{a}\" bukan fail PDF: dokumen eSPA mesti PDF.",
                "The attachment \"{a}\" is not a PDF file: the eSPA document must be a PDF.",
            ),
            EspaCode::AttachmentEmpty => (
                "Lampiran \"{a}\" kosong.",
                "The attachment \"{a}\" is empty.",
            ),
            EspaCode::AttachmentTooLarge => (
                "Lampiran \"{a}\" melebihi had saiz bagi satu lampiran.",
                "The attachment \"{a}\" is over the size limit for one attachment.",
            ),
            EspaCode::MessageTooLarge => (
                "Emel ini melebihi had saiz bagi satu emel dan tidak dibaca.",
                "This email is over the size limit for one email, so none of it was read.",
            ),
            EspaCode::EspaExists => (
                "eSPA {a} telah didaftarkan: untuk membetulkannya, balas e-mel pengesahan eSPA tersebut; untuk eSPA lain, gunakan rujukan lain.",
                "The eSPA {a} is already registered: to correct it, reply to that eSPA's acknowledgement; for another eSPA, use another reference.",
            ),
        }
    }
}

impl std::fmt::Display for EspaCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// One thing wrong with a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EspaProblem {
    pub code: EspaCode,
    pub about: Option<String>,
}

impl EspaProblem {
    pub fn new(code: EspaCode, about: Option<String>) -> EspaProblem {
        EspaProblem { code, about }
    }

    pub fn about(code: EspaCode, about: impl ToString) -> EspaProblem {
        EspaProblem::new(code, Some(about.to_string()))
    }

    pub fn ms(&self) -> String {
        self.render(self.code.sentences().0, "ini")
    }

    pub fn en(&self) -> String {
        self.render(self.code.sentences().1, "given")
    }

    fn render(&self, sentence: &str, fallback: &str) -> String {
        let about = self
            .about
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or(fallback);
        // Quoted text from the developer stays one short line.
        let about: String = match about.char_indices().nth(120) {
            Some((at, _)) => format!("{}…", &about[..at]),
            None => about.to_string(),
        };
        sentence.replace("{a}", &about)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn codes_are_stable_and_every_sentence_reads() {
        let mut ids = std::collections::BTreeSet::new();
        for code in EspaCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.id()));
            assert!(ids.insert(code.id()), "duplicate {code}");
            for about in [None, Some("3".to_string())] {
                let p = EspaProblem::new(code, about);
                for text in [p.ms(), p.en()] {
                    assert!(text.ends_with('.'), "{code}: {text}");
                    assert!(!text.contains("{a}") && !text.contains("  "), "{text}");
                }
                assert_ne!(p.ms(), p.en());
            }
        }
        let p = EspaProblem::about(EspaCode::EspaExists, "HDA-2026-000123");
        assert!(p.en().contains("HDA-2026-000123"), "{}", p.en());
    }
}
