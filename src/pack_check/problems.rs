//! The problems a pack check reports: stable codes (stored in case
//! histories) and, for each, one sentence in Malay and one in English for
//! the INCOMPLETE email.

use serde::{Deserialize, Serialize};

use super::fields::Field;
use super::sentences::sentences;

/// Why a pack cannot go ahead. The `SCREAMING_SNAKE_CASE` form ([`Code::id`],
/// also the serialised form) is stable: it is stored in case histories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    /// A field line is absent or empty; `about` is the field's label.
    FieldMissing,
    EspaRefInvalid,
    OrderInvalid,
    NameInvalid,
    IdTypeInvalid,
    /// MyKad/MyPR number not `YYMMDD-PB-###G`.
    MykadFormat,
    MykadDate,
    MykadPlace,
    PassportFormat,
    NationalityInvalid,
    EmailInvalid,
    PhoneInvalid,
    /// A phone number without a country code that is not Malaysian.
    PhoneNotInternational,
    RoleInvalid,
    ReasonInvalid,
    /// MyKad with a nationality other than Malaysian.
    IdNationalityMismatch,
    PassportMalaysian,
    MyprNotPr,
    /// LUAR_NEGARA for a non-Malaysian.
    ReasonNotMalaysian,
    /// WARGA_ASING for a Malaysian.
    ReasonMalaysian,
    /// LUAR_NEGARA or WARGA_ASING with a +60 phone; `about` is the reason.
    ReasonMalaysianPhone,
    /// LUAR_NEGARA or WARGA_ASING with a +86/+886/+81 phone; `about` is the reason.
    PhoneIdsayaCountry,
    FormMissing,
    LoaMissing,
    IdDocMissing,
    /// More than one kind of identity document.
    IdDocMixed,
    /// The identity document is not the kind the ID Type names; `about` is the ID Type.
    IdDocMismatch,
    MykadFrontMissing,
    MykadBackMissing,
    /// The MyKad front and back are one file (same SHA-256); `about` is the back.
    MykadSidesSame,
    /// Two different documents of the pack are one file; `about` names both.
    DocumentsSameFile,
    /// Archive or executable, by name; `about` is the attachment.
    AttachmentTypeRefused,
    /// Not `.pdf`, `.jpg`/`.jpeg` or `.png`.
    AttachmentTypeNotAllowed,
    /// The bytes are not what the extension says.
    AttachmentTypeMismatch,
    AttachmentEmpty,
    /// The name does not say which document it is.
    AttachmentUnclassified,
    /// The form or the LOA is not a PDF.
    AttachmentNotPdf,
    AttachmentTooLarge,
    /// The message is over the size limit; `about` is the limit (`25 MiB`).
    MessageTooLarge,
    /// More attachments than are read; `about` is how many are read.
    TooManyAttachments,
    /// For the caller: no signee with this order in the registered eSPA; `about` is the eSPA.
    SigneeUnknown,
    /// For the caller: the role differs from the registration.
    SigneeRoleMismatch,
    /// For the caller: the email differs from the registration.
    SigneeEmailMismatch,
    /// For the caller: an active case exists; `about` is its reference.
    DuplicateCase,
}

impl Code {
    pub const ALL: [Code; 44] = [
        Code::FieldMissing,
        Code::EspaRefInvalid,
        Code::OrderInvalid,
        Code::NameInvalid,
        Code::IdTypeInvalid,
        Code::MykadFormat,
        Code::MykadDate,
        Code::MykadPlace,
        Code::PassportFormat,
        Code::NationalityInvalid,
        Code::EmailInvalid,
        Code::PhoneInvalid,
        Code::PhoneNotInternational,
        Code::RoleInvalid,
        Code::ReasonInvalid,
        Code::IdNationalityMismatch,
        Code::PassportMalaysian,
        Code::MyprNotPr,
        Code::ReasonNotMalaysian,
        Code::ReasonMalaysian,
        Code::ReasonMalaysianPhone,
        Code::PhoneIdsayaCountry,
        Code::FormMissing,
        Code::LoaMissing,
        Code::IdDocMissing,
        Code::IdDocMixed,
        Code::IdDocMismatch,
        Code::MykadFrontMissing,
        Code::MykadBackMissing,
        Code::MykadSidesSame,
        Code::DocumentsSameFile,
        Code::AttachmentTypeRefused,
        Code::AttachmentTypeNotAllowed,
        Code::AttachmentTypeMismatch,
        Code::AttachmentEmpty,
        Code::AttachmentUnclassified,
        Code::AttachmentNotPdf,
        Code::AttachmentTooLarge,
        Code::MessageTooLarge,
        Code::TooManyAttachments,
        Code::SigneeUnknown,
        Code::SigneeRoleMismatch,
        Code::SigneeEmailMismatch,
        Code::DuplicateCase,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Code::FieldMissing => "FIELD_MISSING",
            Code::EspaRefInvalid => "ESPA_REF_INVALID",
            Code::OrderInvalid => "ORDER_INVALID",
            Code::NameInvalid => "NAME_INVALID",
            Code::IdTypeInvalid => "ID_TYPE_INVALID",
            Code::MykadFormat => "MYKAD_FORMAT",
            Code::MykadDate => "MYKAD_DATE",
            Code::MykadPlace => "MYKAD_PLACE",
            Code::PassportFormat => "PASSPORT_FORMAT",
            Code::NationalityInvalid => "NATIONALITY_INVALID",
            Code::EmailInvalid => "EMAIL_INVALID",
            Code::PhoneInvalid => "PHONE_INVALID",
            Code::PhoneNotInternational => "PHONE_NOT_INTERNATIONAL",
            Code::RoleInvalid => "ROLE_INVALID",
            Code::ReasonInvalid => "REASON_INVALID",
            Code::IdNationalityMismatch => "ID_NATIONALITY_MISMATCH",
            Code::PassportMalaysian => "PASSPORT_MALAYSIAN",
            Code::MyprNotPr => "MYPR_NOT_PR",
            Code::ReasonNotMalaysian => "REASON_NOT_MALAYSIAN",
            Code::ReasonMalaysian => "REASON_MALAYSIAN",
            Code::ReasonMalaysianPhone => "REASON_MALAYSIAN_PHONE",
            Code::PhoneIdsayaCountry => "PHONE_IDSAYA_COUNTRY",
            Code::FormMissing => "FORM_MISSING",
            Code::LoaMissing => "LOA_MISSING",
            Code::IdDocMissing => "ID_DOC_MISSING",
            Code::IdDocMixed => "ID_DOC_MIXED",
            Code::IdDocMismatch => "ID_DOC_MISMATCH",
            Code::MykadFrontMissing => "MYKAD_FRONT_MISSING",
            Code::MykadBackMissing => "MYKAD_BACK_MISSING",
            Code::MykadSidesSame => "MYKAD_SIDES_SAME",
            Code::DocumentsSameFile => "DOCUMENTS_SAME_FILE",
            Code::AttachmentTypeRefused => "ATTACHMENT_TYPE_REFUSED",
            Code::AttachmentTypeNotAllowed => "ATTACHMENT_TYPE_NOT_ALLOWED",
            Code::AttachmentTypeMismatch => "ATTACHMENT_TYPE_MISMATCH",
            Code::AttachmentEmpty => "ATTACHMENT_EMPTY",
            Code::AttachmentUnclassified => "ATTACHMENT_UNCLASSIFIED",
            Code::AttachmentNotPdf => "ATTACHMENT_NOT_PDF",
            Code::AttachmentTooLarge => "ATTACHMENT_TOO_LARGE",
            Code::MessageTooLarge => "MESSAGE_TOO_LARGE",
            Code::TooManyAttachments => "TOO_MANY_ATTACHMENTS",
            Code::SigneeUnknown => "SIGNEE_UNKNOWN",
            Code::SigneeRoleMismatch => "SIGNEE_ROLE_MISMATCH",
            Code::SigneeEmailMismatch => "SIGNEE_EMAIL_MISMATCH",
            Code::DuplicateCase => "DUPLICATE_CASE",
        }
    }
}

impl Code {
    /// Whether this problem ends the manual application: no document
    /// added and no field corrected can help, given the signee's real
    /// facts. The one rule for it (SPEC §4 "not eligible").
    ///
    /// Only PHONE_IDSAYA_COUNTRY is final: a Malaysian abroad or a
    /// foreigner on a China, Taiwan or Japan number is served by iDsaya, so
    /// the manual route is not theirs. It *could* also be a slip (a wrong
    /// number typed), which is why the answer says how to send a corrected
    /// pack; but the case cannot be completed by a reply, because what
    /// stands in the way is the signee's phone, not the pack.
    ///
    /// Not final, though they read like eligibility: REASON_MALAYSIAN_PHONE
    /// (a Malaysian abroad usually has a local number there too, or the
    /// reason was chosen wrongly), REASON_NOT_MALAYSIAN / REASON_MALAYSIAN
    /// (the other of LUAR_NEGARA and WARGA_ASING fits), and the ID Type
    /// against nationality (ID_NATIONALITY_MISMATCH, PASSPORT_MALAYSIAN,
    /// MYPR_NOT_PR): each is fixed by correcting a field of the pack.
    pub fn is_final(self) -> bool {
        matches!(self, Code::PhoneIdsayaCountry)
    }

    /// Named to the developer and the verifier, but not in the way of the
    /// pack: one scan sent as two documents (MYKAD_SIDES_SAME,
    /// DOCUMENTS_SAME_FILE). The RA checks every document by hand after the
    /// verification call and can ask for the right scan then; refusing the
    /// pack over it would stop packs whose placeholder scans are byte-equal
    /// (SPEC §4's own example pack is sent so by the contract check).
    pub fn is_notice(self) -> bool {
        matches!(self, Code::MykadSidesSame | Code::DocumentsSameFile)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// One thing wrong with a pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub code: Code,
    /// The field's combined label (`Nama Penuh / Full Name`), the
    /// attachment's display name, or what the code's doc says.
    pub about: Option<String>,
}

impl Problem {
    pub fn new(code: Code, about: Option<String>) -> Problem {
        Problem { code, about }
    }

    /// A problem about a field, named by its combined label.
    pub fn field(code: Code, field: Field) -> Problem {
        Problem::new(code, Some(field.label()))
    }

    /// See [`Code::is_final`].
    pub fn is_final(&self) -> bool {
        self.code.is_final()
    }

    /// The field this problem is about, when `about` is a field label.
    pub fn about_field(&self) -> Option<Field> {
        let about = self.about.as_deref()?;
        Field::ALL.into_iter().find(|f| f.label() == about)
    }

    /// One sentence in Malay for the developer's clerk.
    pub fn ms(&self) -> String {
        let field = self.about_field();
        self.render(self.sentences().0, field.map(Field::label_ms), "ini")
    }

    /// One sentence in English for the developer's clerk.
    pub fn en(&self) -> String {
        let field = self.about_field();
        self.render(self.sentences().1, field.map(Field::label_en), "given")
    }

    fn sentences(&self) -> (&'static str, &'static str) {
        if self.code == Code::FieldMissing && self.about_field().is_none() {
            // Not named by a field label: nothing to tell them to copy.
            return (
                "Maklumat wajib{q} tiada.",
                "A required field{q} is missing.",
            );
        }
        // The limits are always named; without one the sentence still reads.
        if self.about.as_deref().is_none_or(str::is_empty) {
            match self.code {
                Code::MessageTooLarge => {
                    return (
                        "Emel ini melebihi had saiz bagi satu emel dan tidak dibaca: hantar \
                         lampiran dalam beberapa emel balasan.",
                        "This email is over the size limit for one email, so none of it was \
                         read: send the attachments in several replies.",
                    );
                }
                Code::TooManyAttachments => {
                    return (
                        "Emel ini mempunyai terlalu banyak lampiran dan yang selebihnya tidak \
                         dibaca: lampirkan dokumen permohonan sahaja.",
                        "This email has too many attachments and the rest were not read: \
                         attach only the documents of the application.",
                    );
                }
                _ => {}
            }
        }
        sentences(self.code)
    }

    /// Fills a sentence: `{q}` is ` "about"` (or nothing), `{label}` the
    /// field's label in the sentence's language, `{line}` the combined label
    /// to copy, `{a}` the bare `about` (or `fallback`).
    fn render(&self, template: &str, label: Option<&str>, fallback: &str) -> String {
        let about = self.about.as_deref().filter(|a| !a.is_empty());
        let q = about.map(|a| format!(" \"{a}\"")).unwrap_or_default();
        let line = self.about_field().map(Field::label).unwrap_or_default();
        template
            .replace("{q}", &q)
            .replace("{label}", label.or(about).unwrap_or(""))
            .replace("{line}", &line)
            .replace("{a}", about.unwrap_or(fallback))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn codes_are_stable_and_every_sentence_reads() {
        let mut seen = BTreeMap::new();
        for code in Code::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.id()), "{code:?}");
            assert!(
                seen.insert(code.id(), code).is_none(),
                "duplicate id {}",
                code.id()
            );
            for about in [None, Some("x.pdf".to_string()), Some(Field::Email.label())] {
                let p = Problem::new(code, about.clone());
                for text in [p.ms(), p.en()] {
                    assert!(text.ends_with('.'), "{code:?}: {text}");
                    assert!(!text.contains("\"\""), "{code:?}: {text}");
                    assert!(!text.contains("  "), "{code:?}: {text}");
                }
                assert_ne!(p.ms(), p.en(), "{code:?}");
            }
        }
        let p = Problem::field(Code::FieldMissing, Field::FullName);
        assert_eq!(
            p.en(),
            "\"Full Name\" is missing: please add the line \"Nama Penuh / Full Name: …\"."
        );
        assert_eq!(
            p.ms(),
            "Maklumat \"Nama Penuh\" tiada: sila tambah baris \"Nama Penuh / Full Name: …\"."
        );
        let p = Problem::new(Code::AttachmentTypeMismatch, Some("Borang.pdf".into()));
        assert_eq!(
            p.en(),
            "The content of the attachment \"Borang.pdf\" does not match its file type."
        );
        let finals: Vec<Code> = Code::ALL.into_iter().filter(|c| c.is_final()).collect();
        assert_eq!(finals, vec![Code::PhoneIdsayaCountry]);
        let p = Problem::new(Code::MessageTooLarge, Some("25 MiB".into()));
        assert_eq!(
            p.en(),
            "This email is over the size limit of 25 MiB for one email, so none of it was read: \
             send the attachments in several replies."
        );
        assert!(p.ms().contains("had saiz 25 MiB"), "{}", p.ms());
        let p = Problem::new(Code::TooManyAttachments, Some("50".into()));
        assert!(
            p.en()
                .starts_with("This email has more than 50 attachments and only the first 50")
        );
        assert!(
            p.ms()
                .starts_with("Emel ini mempunyai lebih daripada 50 lampiran")
        );
        let p = Problem::new(Code::ReasonMalaysianPhone, Some("LUAR_NEGARA".into()));
        assert_eq!(
            p.ms(),
            "Sebab LUAR_NEGARA tidak boleh digunakan dengan nombor telefon Malaysia (+60)."
        );
    }
}
