//! The check of an application pack (SPEC §4) that needs no database: the
//! field lines, the attachments, and the rules that tie them together.
//!
//! [`check`] is pure and collects every problem rather than stopping at the
//! first, because the developer gets one INCOMPLETE email listing all of
//! them. Each [`Problem`] has a stable [`Code`] and one sentence in Malay and
//! one in English for that email. The rules that need the store (the eSPA
//! registration agrees, no duplicate case) are the caller's; their codes are
//! here too so every problem reads the same.
//!
//! Readings chosen where the SPEC leaves room:
//! - Nationality: `Malaysia`, `Malaysian`, `Warganegara Malaysia`, `MY`, `MYS`
//!   (and a few spellings of "Malaysian citizen") mean a citizen. A line that
//!   also says `PR`, `Permanent Resident`, `Pemastautin Tetap` or `Penduduk
//!   Tetap` (e.g. `Indonesia (PR)`) means a permanent resident, who is not a
//!   citizen, whatever country it names.
//! - MyPR ⇒ permanent resident: the card itself proves the status, so a MyPR
//!   applicant may write just their country; only a nationality that says
//!   Malaysian citizen contradicts it.
//! - A pack attachment that is refused or faulty still counts as "sent" for
//!   the missing-document rules, so the reply names the fault once instead of
//!   also calling the document missing; it is not in [`Checked::documents`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::attachment::{self, Content, DocKind};
use crate::fields::{Field, Fields};
use crate::mykad::{self, MyKadError};
use crate::phone::{self, Phone, PhoneError};

/// The identity document a signee applies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdType {
    MyKad,
    MyPr,
    Passport,
}

impl IdType {
    pub fn as_str(self) -> &'static str {
        match self {
            IdType::MyKad => "MyKad",
            IdType::MyPr => "MyPR",
            IdType::Passport => "Passport",
        }
    }

    /// Reads `MyKad`, `MyPR`, `Pasport`/`Passport` and common equivalents.
    pub fn parse(raw: &str) -> Option<IdType> {
        parse_choice(raw, |key| match key {
            "mykad" | "kadpengenalan" | "ic" | "nric" | "kp" => Some(IdType::MyKad),
            "mypr"
            | "pr"
            | "kadpemastautintetap"
            | "kadpenduduktetap"
            | "permanentresident"
            | "permanentresidentcard"
            | "prcard" => Some(IdType::MyPr),
            "pasport" | "passport" => Some(IdType::Passport),
            _ => None,
        })
    }

    /// The document family an attachment of `kind` belongs to.
    fn of_document(kind: DocKind) -> Option<IdType> {
        match kind {
            DocKind::MyKadFront | DocKind::MyKadBack | DocKind::MyKadBoth => Some(IdType::MyKad),
            DocKind::Passport => Some(IdType::Passport),
            DocKind::MyPr => Some(IdType::MyPr),
            DocKind::ApplicationForm | DocKind::Loa => None,
        }
    }
}

/// A signee's role in the eSPA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Pembeli,
    Saksi,
    TuanTanah,
    Pemaju,
}

impl Role {
    /// The Malay name, as the SPEC and the registration write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Pembeli => "Pembeli",
            Role::Saksi => "Saksi",
            Role::TuanTanah => "Tuan Tanah",
            Role::Pemaju => "Pemaju",
        }
    }

    pub fn as_en(self) -> &'static str {
        match self {
            Role::Pembeli => "Buyer",
            Role::Saksi => "Witness",
            Role::TuanTanah => "Landowner",
            Role::Pemaju => "Developer",
        }
    }

    /// Reads the Malay or the English name (`Tuan Tanah`, `Landowner`, …).
    pub fn parse(raw: &str) -> Option<Role> {
        parse_choice(raw, |key| match key {
            "pembeli" | "buyer" | "purchaser" => Some(Role::Pembeli),
            "saksi" | "witness" => Some(Role::Saksi),
            "tuantanah" | "landowner" | "pemiliktanah" => Some(Role::TuanTanah),
            "pemaju" | "developer" => Some(Role::Pemaju),
            _ => None,
        })
    }
}

/// Why the signee cannot do eKYC in iDsaya.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reason {
    Idsaya,
    LuarNegara,
    WargaAsing,
    Oku,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Idsaya => "IDSAYA",
            Reason::LuarNegara => "LUAR_NEGARA",
            Reason::WargaAsing => "WARGA_ASING",
            Reason::Oku => "OKU",
        }
    }

    /// Reads `LUAR_NEGARA`, `luar negara`, `Luar-Negara` and plain-language
    /// equivalents (`Malaysian abroad`, `foreigner`, `disabled`).
    pub fn parse(raw: &str) -> Option<Reason> {
        parse_choice(raw, |key| match key {
            "idsaya" => Some(Reason::Idsaya),
            "luarnegara" | "malaysianabroad" | "overseas" | "abroad" => Some(Reason::LuarNegara),
            "wargaasing" | "foreigner" | "foreignnational" | "noncitizen" => {
                Some(Reason::WargaAsing)
            }
            "oku" | "orangkurangupaya" | "disabled" | "pwd" | "personwithdisability" => {
                Some(Reason::Oku)
            }
            _ => None,
        })
    }
}

/// Reads a choice written as one word, in either language, possibly both
/// (`Pasport/Passport`), possibly with a trailing `(…)` note: every part must
/// name the same choice.
fn parse_choice<T: Copy + PartialEq>(raw: &str, pick: impl Fn(&str) -> Option<T>) -> Option<T> {
    let raw = match raw.find('(') {
        Some(at) if at > 0 => &raw[..at],
        _ => raw,
    };
    let mut found = None;
    for part in raw.split('/') {
        let key: String = part
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if key.is_empty() {
            continue;
        }
        let choice = pick(&key)?;
        if found.is_some_and(|f| f != choice) {
            return None;
        }
        found = Some(choice);
    }
    found
}

/// What the check needs of one attachment.
#[derive(Debug, Clone, Copy)]
pub struct AttachmentMeta<'a> {
    pub name: &'a str,
    pub size: u64,
    /// The first ≥ 8 KiB of the content, for sniffing.
    pub head: &'a [u8],
}

/// Size limits (SPEC §4), configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub attachment_max: u64,
    pub message_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            attachment_max: 10 * 1024 * 1024,
            message_max: 25 * 1024 * 1024,
        }
    }
}

/// A pack that passed: every field read and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Upper case, e.g. `HDA-2026-000123`.
    pub espa_ref: String,
    pub order: u32,
    pub full_name: String,
    pub id_type: IdType,
    /// `YYMMDD-PB-###G` for MyKad and MyPR; upper case, no spaces for a passport.
    pub id_number: String,
    /// `Malaysia` for a citizen; otherwise as written, tidily capitalised.
    pub nationality: String,
    pub malaysian: bool,
    pub permanent_resident: bool,
    /// Lower case.
    pub email: String,
    /// E.164.
    pub phone: String,
    pub role: Role,
    pub reason: Reason,
}

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
    MessageTooLarge,
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
    pub const ALL: [Code; 41] = [
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
        Code::AttachmentTypeRefused,
        Code::AttachmentTypeNotAllowed,
        Code::AttachmentTypeMismatch,
        Code::AttachmentEmpty,
        Code::AttachmentUnclassified,
        Code::AttachmentNotPdf,
        Code::AttachmentTooLarge,
        Code::MessageTooLarge,
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
            Code::AttachmentTypeRefused => "ATTACHMENT_TYPE_REFUSED",
            Code::AttachmentTypeNotAllowed => "ATTACHMENT_TYPE_NOT_ALLOWED",
            Code::AttachmentTypeMismatch => "ATTACHMENT_TYPE_MISMATCH",
            Code::AttachmentEmpty => "ATTACHMENT_EMPTY",
            Code::AttachmentUnclassified => "ATTACHMENT_UNCLASSIFIED",
            Code::AttachmentNotPdf => "ATTACHMENT_NOT_PDF",
            Code::AttachmentTooLarge => "ATTACHMENT_TOO_LARGE",
            Code::MessageTooLarge => "MESSAGE_TOO_LARGE",
            Code::SigneeUnknown => "SIGNEE_UNKNOWN",
            Code::SigneeRoleMismatch => "SIGNEE_ROLE_MISMATCH",
            Code::SigneeEmailMismatch => "SIGNEE_EMAIL_MISMATCH",
            Code::DuplicateCase => "DUPLICATE_CASE",
        }
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

/// The Malay and the English sentence of each code (see [`Problem::render`]
/// for the placeholders).
fn sentences(code: Code) -> (&'static str, &'static str) {
    match code {
        Code::FieldMissing => (
            "Maklumat \"{label}\" tiada: sila tambah baris \"{line}: …\".",
            "\"{label}\" is missing: please add the line \"{line}: …\".",
        ),
        Code::EspaRefInvalid => (
            "Rujukan eSPA tidak sah: tulis seperti HDA-2026-000123.",
            "The eSPA Reference is not valid: write it like HDA-2026-000123.",
        ),
        Code::OrderInvalid => (
            "Turutan tandatangan mesti nombor bulat dari 1 hingga 99.",
            "The Signing Order must be a whole number from 1 to 99.",
        ),
        Code::NameInvalid => (
            "Nama Penuh tidak sah: tulis nama penuh seperti dalam dokumen pengenalan, tanpa \
             nombor atau simbol.",
            "The Full Name is not valid: write the full name as in the identity document, \
             without digits or symbols.",
        ),
        Code::IdTypeInvalid => (
            "Jenis Pengenalan mesti salah satu: MyKad, MyPR atau Pasport.",
            "The ID Type must be one of MyKad, MyPR or Passport.",
        ),
        Code::MykadFormat => (
            "No. Pengenalan mesti 12 digit dalam bentuk YYMMDD-PB-###G.",
            "The ID Number must be 12 digits written as YYMMDD-PB-###G.",
        ),
        Code::MykadDate => (
            "Enam digit pertama No. Pengenalan bukan tarikh lahir yang sah.",
            "The first six digits of the ID Number are not a valid date of birth.",
        ),
        Code::MykadPlace => (
            "Kod tempat lahir (digit ke-7 dan ke-8) dalam No. Pengenalan bukan kod yang \
             dikeluarkan oleh JPN.",
            "The place-of-birth code (digits 7 and 8) of the ID Number is not a code JPN \
             issues.",
        ),
        Code::PassportFormat => (
            "No. Pasport tidak sah: mesti 5 hingga 20 huruf dan digit.",
            "The passport number is not valid: it must be 5 to 20 letters and digits.",
        ),
        Code::NationalityInvalid => (
            "Warganegara tidak sah: tulis nama negara, contohnya Malaysia atau Indonesia.",
            "The Nationality is not valid: write the country, e.g. Malaysia or Indonesia.",
        ),
        Code::EmailInvalid => (
            "Alamat emel penandatangan tidak sah.",
            "The signee's email address is not valid.",
        ),
        Code::PhoneInvalid => (
            "Nombor telefon penandatangan tidak sah.",
            "The signee's phone number is not valid.",
        ),
        Code::PhoneNotInternational => (
            "Nombor telefon mesti dalam bentuk antarabangsa dengan kod negara, contohnya \
             +971 50 123 4567.",
            "The phone number must be in international form with its country code, e.g. \
             +971 50 123 4567.",
        ),
        Code::RoleInvalid => (
            "Peranan mesti salah satu: Pembeli, Saksi, Tuan Tanah atau Pemaju.",
            "The Role must be one of Pembeli (buyer), Saksi (witness), Tuan Tanah (landowner) \
             or Pemaju (developer).",
        ),
        Code::ReasonInvalid => (
            "Sebab mesti salah satu: IDSAYA, LUAR_NEGARA, WARGA_ASING atau OKU.",
            "The Reason must be one of IDSAYA, LUAR_NEGARA, WARGA_ASING or OKU.",
        ),
        Code::IdNationalityMismatch => (
            "MyKad hanya untuk warganegara Malaysia, tetapi Warganegara bukan Malaysia.",
            "MyKad is for Malaysian citizens only, but the Nationality is not Malaysia.",
        ),
        Code::PassportMalaysian => (
            "Warganegara Malaysia mesti memohon dengan MyKad, bukan pasport.",
            "A Malaysian citizen must apply with a MyKad, not a passport.",
        ),
        Code::MyprNotPr => (
            "MyPR hanya untuk pemastautin tetap, tetapi Warganegara menyatakan warganegara \
             Malaysia.",
            "MyPR is for permanent residents only, but the Nationality says Malaysian citizen.",
        ),
        Code::ReasonNotMalaysian => (
            "Sebab LUAR_NEGARA hanya untuk warganegara Malaysia yang berada di luar negara.",
            "The reason LUAR_NEGARA is only for Malaysian citizens who are abroad.",
        ),
        Code::ReasonMalaysian => (
            "Sebab WARGA_ASING hanya untuk bukan warganegara Malaysia.",
            "The reason WARGA_ASING is only for people who are not Malaysian citizens.",
        ),
        Code::ReasonMalaysianPhone => (
            "Sebab {a} tidak boleh digunakan dengan nombor telefon Malaysia (+60).",
            "The reason {a} cannot be used with a Malaysian (+60) phone number.",
        ),
        Code::PhoneIdsayaCountry => (
            "Nombor telefon China (+86), Taiwan (+886) atau Jepun (+81) tidak layak bagi sebab \
             {a}: penandatangan boleh membuat eKYC dalam aplikasi iDsaya.",
            "A China (+86), Taiwan (+886) or Japan (+81) phone number is not eligible for the \
             reason {a}: the signee can do eKYC in the iDsaya app.",
        ),
        Code::FormMissing => (
            "Borang Permohonan (PDF) tiada dalam lampiran.",
            "The Application Form (PDF) is not attached.",
        ),
        Code::LoaMissing => (
            "Surat Kebenaran (LOA) daripada pemaju (PDF) tiada dalam lampiran.",
            "The developer's Letter of Authorisation (LOA, PDF) is not attached.",
        ),
        Code::IdDocMissing => (
            "Salinan dokumen pengenalan tiada dalam lampiran (MyKad depan dan belakang, pasport \
             atau MyPR).",
            "The copy of the identity document is not attached (MyKad front and back, passport \
             or MyPR).",
        ),
        Code::IdDocMixed => (
            "Lampirkan satu jenis dokumen pengenalan sahaja (MyKad, pasport atau MyPR), bukan \
             lebih daripada satu.",
            "Attach one kind of identity document only (MyKad, passport or MyPR), not more than \
             one.",
        ),
        Code::IdDocMismatch => (
            "Dokumen pengenalan yang dilampirkan tidak sepadan dengan Jenis Pengenalan{q}.",
            "The identity document attached does not match the ID Type{q}.",
        ),
        Code::MykadFrontMissing => (
            "Salinan MyKad bahagian depan tiada.",
            "The copy of the front of the MyKad is missing.",
        ),
        Code::MykadBackMissing => (
            "Salinan MyKad bahagian belakang tiada.",
            "The copy of the back of the MyKad is missing.",
        ),
        Code::AttachmentTypeRefused => (
            "Lampiran{q} ditolak: fail arkib dan fail boleh laksana tidak diterima.",
            "The attachment{q} is refused: archives and executable files are not accepted.",
        ),
        Code::AttachmentTypeNotAllowed => (
            "Lampiran{q} bukan fail PDF, JPEG atau PNG.",
            "The attachment{q} is not a PDF, JPEG or PNG file.",
        ),
        Code::AttachmentTypeMismatch => (
            "Kandungan lampiran{q} tidak sepadan dengan jenis failnya.",
            "The content of the attachment{q} does not match its file type.",
        ),
        Code::AttachmentEmpty => ("Lampiran{q} kosong.", "The attachment{q} is empty."),
        Code::AttachmentUnclassified => (
            "Lampiran{q} tidak dapat dikenal pasti: namakan fail sebagai Borang Permohonan, \
             MyKad depan, MyKad belakang, Pasport, MyPR atau LOA.",
            "The attachment{q} could not be identified: name the file Application Form, MyKad \
             front, MyKad back, Passport, MyPR or LOA.",
        ),
        Code::AttachmentNotPdf => (
            "Lampiran{q} mesti fail PDF.",
            "The attachment{q} must be a PDF file.",
        ),
        Code::AttachmentTooLarge => (
            "Lampiran{q} melebihi had saiz fail.",
            "The attachment{q} is over the file size limit.",
        ),
        Code::MessageTooLarge => (
            "Emel ini melebihi had saiz keseluruhan: hantar lampiran dalam beberapa emel balasan.",
            "This email is over the total size limit: send the attachments in several replies.",
        ),
        Code::SigneeUnknown => (
            "Tiada penandatangan dengan turutan ini didaftarkan bagi eSPA{q}.",
            "No signee with this Signing Order is registered for eSPA{q}.",
        ),
        Code::SigneeRoleMismatch => (
            "Peranan tidak sama dengan yang didaftarkan bagi eSPA ini.",
            "The Role differs from the one registered for this eSPA.",
        ),
        Code::SigneeEmailMismatch => (
            "Emel tidak sama dengan yang didaftarkan bagi eSPA ini.",
            "The Email differs from the one registered for this eSPA.",
        ),
        Code::DuplicateCase => (
            "Permohonan bagi penandatangan ini sudah wujud: kes{q}.",
            "An application for this signee already exists: case{q}.",
        ),
    }
}

/// The outcome of [`check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    /// Present only when `problems` is empty.
    pub application: Option<Application>,
    /// Per attachment, in input order: its kind when it is an acceptable
    /// document of the pack, `None` when it is refused, faulty, or ignored (a
    /// mail client's signature picture).
    pub documents: Vec<Option<DocKind>>,
    pub problems: Vec<Problem>,
}

/// Checks a pack: the (merged) field lines, every attachment, and the size of
/// the message. `today` decides the century of a MyKad birth date.
pub fn check(
    fields: &Fields,
    attachments: &[AttachmentMeta],
    message_size: u64,
    limits: &Limits,
    today: NaiveDate,
) -> Checked {
    let mut problems = Vec::new();
    if message_size > limits.message_max {
        problems.push(Problem::new(Code::MessageTooLarge, None));
    }
    let (application, id_type) = check_fields(fields, today, &mut problems);
    let documents = check_attachments(attachments, limits, id_type, &mut problems);
    tracing::debug!(
        problems = problems.len(),
        attachments = attachments.len(),
        "pack checked"
    );
    Checked {
        application: application.filter(|_| problems.is_empty()),
        documents,
        problems,
    }
}

/// The value of `field`, or a FIELD_MISSING problem.
fn required<'f>(fields: &'f Fields, field: Field, problems: &mut Vec<Problem>) -> Option<&'f str> {
    match fields.get(field).map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => Some(v),
        None => {
            problems.push(Problem::field(Code::FieldMissing, field));
            None
        }
    }
}

/// Reads `field` with `read`, or records `code` when it does not read.
fn read<'f, T>(
    fields: &'f Fields,
    field: Field,
    code: Code,
    problems: &mut Vec<Problem>,
    parse: impl FnOnce(&'f str) -> Option<T>,
) -> Option<T> {
    let value = required(fields, field, problems)?;
    let parsed = parse(value);
    if parsed.is_none() {
        problems.push(Problem::field(code, field));
    }
    parsed
}

/// Every field rule and the rules between fields. Returns the application
/// when every field read (the caller drops it if any problem was found) and
/// the ID Type, which the attachment rules need.
fn check_fields(
    fields: &Fields,
    today: NaiveDate,
    problems: &mut Vec<Problem>,
) -> (Option<Application>, Option<IdType>) {
    let espa = read(
        fields,
        Field::EspaRef,
        Code::EspaRefInvalid,
        problems,
        espa_ref,
    );
    let order = read(fields, Field::Order, Code::OrderInvalid, problems, order);
    let name = read(
        fields,
        Field::FullName,
        Code::NameInvalid,
        problems,
        full_name,
    );
    let id_type = read(
        fields,
        Field::IdType,
        Code::IdTypeInvalid,
        problems,
        IdType::parse,
    );
    let id_number = required(fields, Field::IdNumber, problems)
        .and_then(|raw| id_number(raw, id_type, today, problems));
    let nat = read(
        fields,
        Field::Nationality,
        Code::NationalityInvalid,
        problems,
        nationality,
    );
    let email = read(fields, Field::Email, Code::EmailInvalid, problems, email);
    let phone = required(fields, Field::Phone, problems).and_then(|raw| {
        phone::normalise(raw)
            .map_err(|e| {
                let code = match e {
                    PhoneError::NotInternational => Code::PhoneNotInternational,
                    PhoneError::Empty | PhoneError::BadCharacters | PhoneError::Invalid => {
                        Code::PhoneInvalid
                    }
                };
                problems.push(Problem::field(code, Field::Phone));
            })
            .ok()
    });
    let role = read(
        fields,
        Field::Role,
        Code::RoleInvalid,
        problems,
        Role::parse,
    );
    let reason = read(
        fields,
        Field::Reason,
        Code::ReasonInvalid,
        problems,
        Reason::parse,
    );

    if let (Some(id_type), Some(nat)) = (id_type, &nat) {
        let code = match id_type {
            IdType::MyKad if !nat.malaysian => Some(Code::IdNationalityMismatch),
            IdType::Passport if nat.malaysian => Some(Code::PassportMalaysian),
            IdType::MyPr if nat.malaysian => Some(Code::MyprNotPr),
            _ => None,
        };
        if let Some(code) = code {
            problems.push(Problem::field(code, Field::Nationality));
        }
    }
    if let Some(reason) = reason {
        check_reason(reason, nat.as_ref(), phone.as_ref(), problems);
    }

    let application = (|| {
        let nat = nat?;
        let id_type = id_type?;
        Some(Application {
            espa_ref: espa?,
            order: order?,
            full_name: name?,
            id_type,
            id_number: id_number?,
            permanent_resident: nat.permanent_resident || id_type == IdType::MyPr,
            malaysian: nat.malaysian,
            nationality: nat.name,
            email: email?,
            phone: phone?.e164,
            role: role?,
            reason: reason?,
        })
    })();
    (application, id_type)
}

/// LUAR_NEGARA and WARGA_ASING are for people iDsaya cannot serve: not on a
/// Malaysian number, and not on a number of a country iDsaya serves.
fn check_reason(
    reason: Reason,
    nat: Option<&Nationality>,
    phone: Option<&Phone>,
    problems: &mut Vec<Problem>,
) {
    let about = || Some(reason.as_str().to_string());
    match reason {
        Reason::Idsaya | Reason::Oku => return,
        Reason::LuarNegara if nat.is_some_and(|n| !n.malaysian) => {
            problems.push(Problem::new(Code::ReasonNotMalaysian, about()));
        }
        Reason::WargaAsing if nat.is_some_and(|n| n.malaysian) => {
            problems.push(Problem::new(Code::ReasonMalaysian, about()));
        }
        Reason::LuarNegara | Reason::WargaAsing => {}
    }
    if let Some(phone) = phone {
        if phone.is_malaysian() {
            problems.push(Problem::new(Code::ReasonMalaysianPhone, about()));
        } else if phone.is_idsaya_served() {
            problems.push(Problem::new(Code::PhoneIdsayaCountry, about()));
        }
    }
}

/// The ID number read as the ID Type says; with no valid ID Type there is
/// nothing to check it against (ID_TYPE_INVALID is already recorded).
fn id_number(
    raw: &str,
    id_type: Option<IdType>,
    today: NaiveDate,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let result = match id_type? {
        IdType::MyKad | IdType::MyPr => {
            mykad::check(raw, today)
                .map(|k| k.normalised)
                .map_err(|e| match e {
                    MyKadError::Format => Code::MykadFormat,
                    MyKadError::Date => Code::MykadDate,
                    MyKadError::Place => Code::MykadPlace,
                })
        }
        IdType::Passport => passport_number(raw).ok_or(Code::PassportFormat),
    };
    result
        .map_err(|code| problems.push(Problem::field(code, Field::IdNumber)))
        .ok()
}

/// A passport number: 5–20 letters and digits with at least one digit,
/// spaces and dashes dropped, upper case.
pub fn passport_number(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.trim().chars() {
        match c {
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            ' ' | '-' | '\u{00A0}' => {}
            _ => return None,
        }
    }
    let ok = (5..=20).contains(&out.len()) && out.bytes().any(|b| b.is_ascii_digit());
    ok.then_some(out)
}

/// An eSPA reference: groups joined by dashes, the first starting with a
/// letter (`HDA-2026-000123`), with at least one digit; upper case, spaces
/// and typographic dashes tidied. Shared with the registration reader so
/// both sides spell a reference the same way.
pub fn espa_ref(raw: &str) -> Option<String> {
    let tidy: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    let groups: Vec<&str> = tidy.split('-').collect();
    let first = groups.first()?;
    let ok = (2..=4).contains(&groups.len())
        && first
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && (2..=10).contains(&first.len())
        && groups
            .iter()
            .all(|g| (1..=12).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_alphanumeric()))
        && groups[1..]
            .iter()
            .any(|g| g.bytes().any(|b| b.is_ascii_digit()));
    ok.then_some(tidy)
}

/// A signing order: a whole number 1–99 (`2`, `02`, `#2`).
fn order(raw: &str) -> Option<u32> {
    let digits = raw.trim().trim_start_matches('#').trim();
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| (1..=99).contains(n))
}

/// Characters a full name may carry besides letters and spaces: Malaysian
/// names use `@` (alias), `/` (`a/l`, `a/p`), and the usual punctuation.
const NAME_PUNCTUATION: &[char] = &['.', ',', '\'', '’', '-', '@', '/', '(', ')'];

/// A full name, spaces collapsed: 2–150 characters, at least two letters, no
/// digits or symbols.
fn full_name(raw: &str) -> Option<String> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let ok = (2..=150).contains(&name.chars().count())
        && name.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && name.chars().all(|c| {
            c.is_alphabetic()
                || c == ' '
                || NAME_PUNCTUATION.contains(&c)
                || (!c.is_ascii() && !c.is_control() && !c.is_numeric())
        });
    ok.then_some(name)
}

/// A practical email check: one `@`, a local part and a dotted domain, no
/// spaces or characters mail addresses do not carry; lower case.
pub fn email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = e.split_once('@')?;
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic));
    (local_ok && domain_ok).then_some(e)
}

/// A nationality line, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nationality {
    /// `Malaysia` for a citizen; otherwise as written, tidily capitalised.
    pub name: String,
    pub malaysian: bool,
    pub permanent_resident: bool,
}

/// Reads a nationality line (see the module doc for the reading). `None`
/// when it is not the name of a country: digits, symbols, a yes/no answer.
pub fn nationality(raw: &str) -> Option<Nationality> {
    let written = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let letters = written.chars().filter(|c| c.is_alphabetic()).count();
    let plain = written
        .chars()
        .all(|c| c.is_alphabetic() || " ()-.,/'’".contains(c));
    if !(2..=60).contains(&written.chars().count()) || letters < 2 || !plain {
        return None;
    }
    let words: Vec<String> = written
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let key = words.join(" ");
    if matches!(
        key.as_str(),
        "ya" | "yes" | "tidak" | "no" | "bukan" | "y" | "n"
    ) {
        return None;
    }
    let permanent_resident = words.iter().any(|w| w == "pr" || w == "mypr")
        || ["permanent resident", "pemastautin tetap", "penduduk tetap"]
            .iter()
            .any(|p| key.contains(p));
    let malaysian = !permanent_resident
        && matches!(
            key.as_str(),
            "malaysia"
                | "malaysian"
                | "warganegara malaysia"
                | "my"
                | "mys"
                | "rakyat malaysia"
                | "warga malaysia"
                | "malaysian citizen"
                | "malaysia citizen"
                | "citizen of malaysia"
        );
    let name = if malaysian {
        "Malaysia".to_string()
    } else {
        tidy_case(&written)
    };
    Some(Nationality {
        name,
        malaysian,
        permanent_resident,
    })
}

/// `united STATES` → `United States`; short all-capital words (`USA`, `PR`,
/// `UK`) stay as written.
fn tidy_case(written: &str) -> String {
    written
        .split(' ')
        .map(|word| {
            let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
            if letters.len() <= 3 && letters.iter().all(|c| c.is_uppercase()) {
                return word.to_string();
            }
            let mut out = String::with_capacity(word.len());
            let mut first = true;
            for c in word.chars() {
                if c.is_alphabetic() && first {
                    out.extend(c.to_uppercase());
                    first = false;
                } else {
                    out.extend(c.to_lowercase());
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Each attachment on its own, then the set: form, LOA, one kind of ID.
fn check_attachments(
    attachments: &[AttachmentMeta],
    limits: &Limits,
    id_type: Option<IdType>,
    problems: &mut Vec<Problem>,
) -> Vec<Option<DocKind>> {
    let mut documents = Vec::with_capacity(attachments.len());
    // Every kind sent, faulty or not: a faulty form is named once, as faulty,
    // not again as missing.
    let mut sent: Vec<DocKind> = Vec::new();
    for a in attachments {
        let (kind, ok) = check_one(a, limits, problems);
        if let Some(kind) = kind {
            sent.push(kind);
        }
        documents.push(kind.filter(|_| ok));
    }

    if !sent.contains(&DocKind::ApplicationForm) {
        problems.push(Problem::new(Code::FormMissing, None));
    }
    let families: Vec<IdType> = [IdType::MyKad, IdType::Passport, IdType::MyPr]
        .into_iter()
        .filter(|f| sent.iter().any(|k| IdType::of_document(*k) == Some(*f)))
        .collect();
    match families.as_slice() {
        [] => problems.push(Problem::new(Code::IdDocMissing, None)),
        [family] if id_type.is_some_and(|t| t != *family) => problems.push(Problem::new(
            Code::IdDocMismatch,
            id_type.map(|t| t.as_str().to_string()),
        )),
        [IdType::MyKad] => {
            let has = |kinds: [DocKind; 2]| sent.iter().any(|k| kinds.contains(k));
            if !has([DocKind::MyKadFront, DocKind::MyKadBoth]) {
                problems.push(Problem::new(Code::MykadFrontMissing, None));
            }
            if !has([DocKind::MyKadBack, DocKind::MyKadBoth]) {
                problems.push(Problem::new(Code::MykadBackMissing, None));
            }
        }
        [_] => {}
        _ => problems.push(Problem::new(Code::IdDocMixed, None)),
    }
    if !sent.contains(&DocKind::Loa) {
        problems.push(Problem::new(Code::LoaMissing, None));
    }
    documents
}

/// One attachment: its kind (when the name says) and whether it is
/// acceptable. Problems name the attachment by its display name.
fn check_one(
    a: &AttachmentMeta,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> (Option<DocKind>, bool) {
    let shown = || Some(attachment::display_name(a.name));
    if attachment::refused_by_name(a.name).is_some() {
        problems.push(Problem::new(Code::AttachmentTypeRefused, shown()));
        return (None, false);
    }
    if attachment::is_signature_image(a.name, a.head) {
        return (None, false);
    }
    let kind = attachment::kind_from_name(a.name);
    let before = problems.len();
    if a.size > limits.attachment_max {
        problems.push(Problem::new(Code::AttachmentTooLarge, shown()));
    }
    let declared = attachment::declared(a.name);
    if a.size == 0 || a.head.is_empty() {
        problems.push(Problem::new(Code::AttachmentEmpty, shown()));
    } else {
        match declared {
            None => problems.push(Problem::new(Code::AttachmentTypeNotAllowed, shown())),
            Some(d) if attachment::sniff(a.head) != d => {
                problems.push(Problem::new(Code::AttachmentTypeMismatch, shown()));
            }
            Some(_) => {}
        }
    }
    match kind {
        None => problems.push(Problem::new(Code::AttachmentUnclassified, shown())),
        Some(DocKind::ApplicationForm | DocKind::Loa)
            if declared.is_some_and(|d| d != Content::Pdf) =>
        {
            problems.push(Problem::new(Code::AttachmentNotPdf, shown()));
        }
        Some(_) => {}
    }
    (kind, problems.len() == before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const SPEC_PACK: &str = "\
Rujukan eSPA / eSPA Reference: HDA-2026-000123
Turutan / Signing Order: 2
Nama Penuh / Full Name: Ali bin Abu
Jenis Pengenalan / ID Type: MyKad            (MyKad | MyPR | Pasport/Passport)
No. Pengenalan / ID Number: 900101-14-5673
Warganegara / Nationality: Malaysia
Emel / Email: ali@example.com
Telefon / Phone: +971501234567
Peranan / Role: Pembeli                      (Pembeli | Saksi | Tuan Tanah | Pemaju)
Sebab / Reason: LUAR_NEGARA                  (IDSAYA | LUAR_NEGARA | WARGA_ASING | OKU)
";

    /// Field lines to change in the SPEC pack (an empty value removes one).
    type Changes = Vec<(Field, &'static str)>;
    type Documents = Vec<Option<DocKind>>;

    const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
    const PNG: &[u8] = &[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
    const ZIP: &[u8] = b"PK\x03\x04\x14\x00\x00\x00\x08\x00";
    const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    fn att(name: &'static str, head: &'static [u8]) -> AttachmentMeta<'static> {
        AttachmentMeta {
            name,
            size: 50_000,
            head,
        }
    }

    fn spec_attachments() -> Vec<AttachmentMeta<'static>> {
        vec![
            att("Borang Permohonan PDF Signing Certificate (AATL).pdf", PDF),
            att("MyKad depan.jpg", JPEG),
            att("MyKad belakang.png", PNG),
            att("LOA.pdf", PDF),
        ]
    }

    /// The SPEC pack with `changes` applied (an empty value removes the line).
    fn fields_with(changes: &[(Field, &str)]) -> Fields {
        let mut f = Fields::parse(SPEC_PACK);
        for (field, value) in changes {
            if value.is_empty() {
                f.0.remove(field);
            } else {
                f.0.insert(*field, value.to_string());
            }
        }
        f
    }

    fn run(fields: &Fields, attachments: &[AttachmentMeta]) -> Checked {
        check(fields, attachments, 200_000, &Limits::default(), today())
    }

    fn codes(c: &Checked) -> Vec<Code> {
        c.problems.iter().map(|p| p.code).collect()
    }

    #[test]
    fn spec_example_passes() {
        let c = run(&Fields::parse(SPEC_PACK), &spec_attachments());
        assert_eq!(c.problems, vec![]);
        let app = c.application.unwrap();
        assert_eq!(
            app,
            Application {
                espa_ref: "HDA-2026-000123".into(),
                order: 2,
                full_name: "Ali bin Abu".into(),
                id_type: IdType::MyKad,
                id_number: "900101-14-5673".into(),
                nationality: "Malaysia".into(),
                malaysian: true,
                permanent_resident: false,
                email: "ali@example.com".into(),
                phone: "+971501234567".into(),
                role: Role::Pembeli,
                reason: Reason::LuarNegara,
            }
        );
        assert_eq!(
            c.documents,
            vec![
                Some(DocKind::ApplicationForm),
                Some(DocKind::MyKadFront),
                Some(DocKind::MyKadBack),
                Some(DocKind::Loa)
            ]
        );
    }

    #[test]
    fn messy_real_world_pack_passes() {
        let text = "Dear RA,\r\n\r\nPlease process:\r\n\r\n\
            *Rujukan eSPA*: hda-2026-000123\r\n\
            - Signing Order :\u{00A0}02\r\n\
            - Nama: Ali  bin   Abu\r\n\
            - ID Type: my kad\r\n\
            - IC No.: 900101 14 5673\r\n\
            - Warganegara: WARGANEGARA MALAYSIA\r\n\
            - E-mel: Ali@Example.com<mailto:Ali@Example.com>\r\n\
            - No. H/P: +971 50-123 4567\r\n\
            - Role: Buyer\r\n\
            - Sebab: Luar Negara\r\n\r\n\
            Thanks,\r\nClerk\r\nTel: 03-1234 5678\r\n\
            > Telefon / Phone: +60123456789\r\n";
        let attachments = [
            att("Borang_Permohonan_AATL.PDF", PDF),
            att("IC front & back.pdf", PDF),
            att("image001.png", PNG),
            att("Surat Kebenaran.pdf", PDF),
        ];
        let c = run(&Fields::parse(text), &attachments);
        assert_eq!(c.problems, vec![]);
        let app = c.application.unwrap();
        assert_eq!(app.espa_ref, "HDA-2026-000123");
        assert_eq!(app.order, 2);
        assert_eq!(app.full_name, "Ali bin Abu");
        assert_eq!(app.id_number, "900101-14-5673");
        assert_eq!(app.email, "ali@example.com");
        assert_eq!(app.phone, "+971501234567");
        assert_eq!(app.reason, Reason::LuarNegara);
        assert_eq!(
            c.documents,
            vec![
                Some(DocKind::ApplicationForm),
                Some(DocKind::MyKadBoth),
                None,
                Some(DocKind::Loa)
            ]
        );
    }

    #[test]
    fn field_rules() {
        let passport = [
            (Field::IdType, "Passport"),
            (Field::Nationality, "Indonesia"),
            (Field::Reason, "WARGA_ASING"),
        ];
        let passport_ok = [
            att("Borang.pdf", PDF),
            att("Passport.jpg", JPEG),
            att("LOA.pdf", PDF),
        ];
        #[rustfmt::skip]
        let cases: Vec<(&str, Changes, Vec<Code>)> = vec![
            ("missing eSPA", vec![(Field::EspaRef, "")], vec![Code::FieldMissing]),
            ("eSPA lower case", vec![(Field::EspaRef, "hda-2026-000123")], vec![]),
            ("eSPA spaced", vec![(Field::EspaRef, "HDA - 2026 - 000123")], vec![]),
            ("eSPA prose", vec![(Field::EspaRef, "see attached")], vec![Code::EspaRefInvalid]),
            ("eSPA no digits", vec![(Field::EspaRef, "HDA-ABC")], vec![Code::EspaRefInvalid]),
            ("eSPA one group", vec![(Field::EspaRef, "HDA2026000123")], vec![Code::EspaRefInvalid]),
            ("order 1", vec![(Field::Order, "1")], vec![]),
            ("order 99", vec![(Field::Order, "99")], vec![]),
            ("order #3", vec![(Field::Order, "#3")], vec![]),
            ("order 0", vec![(Field::Order, "0")], vec![Code::OrderInvalid]),
            ("order 100", vec![(Field::Order, "100")], vec![Code::OrderInvalid]),
            ("order -1", vec![(Field::Order, "-1")], vec![Code::OrderInvalid]),
            ("order words", vec![(Field::Order, "two")], vec![Code::OrderInvalid]),
            ("order 2.5", vec![(Field::Order, "2.5")], vec![Code::OrderInvalid]),
            ("missing order", vec![(Field::Order, "")], vec![Code::FieldMissing]),
            ("name a/l @", vec![(Field::FullName, "Muthu a/l Rajan @ Raju")], vec![]),
            ("name chinese", vec![(Field::FullName, "林亚九")], vec![]),
            ("name apostrophe", vec![(Field::FullName, "Nur 'Ain binti O'Neil")], vec![]),
            ("name digits", vec![(Field::FullName, "Ali 900101")], vec![Code::NameInvalid]),
            ("name markup", vec![(Field::FullName, "<b>Ali</b>")], vec![Code::NameInvalid]),
            ("name one letter", vec![(Field::FullName, "A")], vec![Code::NameInvalid]),
            ("missing name", vec![(Field::FullName, "")], vec![Code::FieldMissing]),
            ("id type IC", vec![(Field::IdType, "IC")], vec![]),
            ("id type both langs", vec![(Field::IdType, "MyKad / IC")], vec![]),
            ("id type unknown", vec![(Field::IdType, "driving licence")], vec![Code::IdTypeInvalid]),
            ("id type contradicting", vec![(Field::IdType, "MyKad/Passport")], vec![Code::IdTypeInvalid]),
            ("mykad no dashes", vec![(Field::IdNumber, "900101145673")], vec![]),
            ("mykad short", vec![(Field::IdNumber, "900101-14-567")], vec![Code::MykadFormat]),
            ("mykad date", vec![(Field::IdNumber, "901301-14-5673")], vec![Code::MykadDate]),
            ("mykad place", vec![(Field::IdNumber, "900101-17-5673")], vec![Code::MykadPlace]),
            ("missing id number", vec![(Field::IdNumber, "")], vec![Code::FieldMissing]),
            ("nationality malaysian", vec![(Field::Nationality, "malaysian")], vec![]),
            ("nationality MYS", vec![(Field::Nationality, "MYS")], vec![]),
            ("nationality digits", vec![(Field::Nationality, "60")], vec![Code::NationalityInvalid]),
            ("nationality yes", vec![(Field::Nationality, "Ya")], vec![Code::NationalityInvalid]),
            ("missing nationality", vec![(Field::Nationality, "")], vec![Code::FieldMissing]),
            ("email upper", vec![(Field::Email, "ALI@EXAMPLE.COM")], vec![]),
            ("email no at", vec![(Field::Email, "ali.example.com")], vec![Code::EmailInvalid]),
            ("email two at", vec![(Field::Email, "ali@x@example.com")], vec![Code::EmailInvalid]),
            ("email no dot", vec![(Field::Email, "ali@localhost")], vec![Code::EmailInvalid]),
            ("email space", vec![(Field::Email, "ali abu@example.com")], vec![Code::EmailInvalid]),
            ("missing email", vec![(Field::Email, "")], vec![Code::FieldMissing]),
            ("phone spaced", vec![(Field::Phone, "+971 50 123 4567")], vec![]),
            ("phone 00", vec![(Field::Phone, "00971501234567")], vec![]),
            ("phone junk", vec![(Field::Phone, "call me")], vec![Code::PhoneInvalid]),
            ("phone invalid", vec![(Field::Phone, "+971 12")], vec![Code::PhoneInvalid]),
            ("phone no cc", vec![(Field::Phone, "971501234567")], vec![Code::PhoneNotInternational]),
            ("missing phone", vec![(Field::Phone, "")], vec![Code::FieldMissing]),
            ("role english", vec![(Field::Role, "Witness")], vec![]),
            ("role tuan tanah", vec![(Field::Role, "tuan tanah")], vec![]),
            ("role landowner", vec![(Field::Role, "Land Owner")], vec![]),
            ("role unknown", vec![(Field::Role, "Lawyer")], vec![Code::RoleInvalid]),
            ("missing role", vec![(Field::Role, "")], vec![Code::FieldMissing]),
            ("reason dashed", vec![(Field::Reason, "Luar-Negara")], vec![]),
            ("reason unknown", vec![(Field::Reason, "BUSY")], vec![Code::ReasonInvalid]),
            ("missing reason", vec![(Field::Reason, "")], vec![Code::FieldMissing]),
            ("passport with MyKad copies", passport.to_vec(), vec![Code::IdDocMismatch]),
        ];
        for (what, changes, want) in cases {
            let c = run(&fields_with(&changes), &spec_attachments());
            assert_eq!(codes(&c), want, "{what}: {:?}", c.problems);
            assert_eq!(c.application.is_some(), want.is_empty(), "{what}");
        }
        let c = run(&fields_with(&passport), &passport_ok);
        assert_eq!(c.problems, vec![], "passport pack");
        let c = run(
            &fields_with(&[passport.as_slice(), &[(Field::IdNumber, "12")]].concat()),
            &passport_ok,
        );
        assert_eq!(codes(&c), vec![Code::PassportFormat]);
    }

    #[test]
    fn problems_name_the_field() {
        let c = run(&fields_with(&[(Field::Email, "nope")]), &spec_attachments());
        assert_eq!(
            c.problems,
            vec![Problem::new(
                Code::EmailInvalid,
                Some("Emel / Email".to_string())
            )]
        );
        assert_eq!(c.problems[0].about_field(), Some(Field::Email));
    }

    #[test]
    fn identity_and_nationality_rules() {
        let mykad_docs = spec_attachments();
        let passport_docs = vec![
            att("Borang.pdf", PDF),
            att("Passport.jpg", JPEG),
            att("LOA.pdf", PDF),
        ];
        let mypr_docs = vec![
            att("Borang.pdf", PDF),
            att("MyPR.jpg", JPEG),
            att("LOA.pdf", PDF),
        ];
        #[rustfmt::skip]
        let cases: Vec<(&str, Changes, &Vec<AttachmentMeta>, Vec<Code>)> = vec![
            ("mykad malaysian", vec![], &mykad_docs, vec![]),
            ("mykad foreigner", vec![(Field::Nationality, "Indonesia"), (Field::Reason, "IDSAYA")],
                &mykad_docs, vec![Code::IdNationalityMismatch]),
            ("mykad PR", vec![(Field::Nationality, "Indonesia (PR)"), (Field::Reason, "OKU")],
                &mykad_docs, vec![Code::IdNationalityMismatch]),
            ("passport foreigner", vec![(Field::IdType, "Pasport"), (Field::IdNumber, "A1234567"),
                (Field::Nationality, "Indonesian"), (Field::Reason, "WARGA_ASING")],
                &passport_docs, vec![]),
            ("passport malaysian", vec![(Field::IdType, "Passport"), (Field::IdNumber, "A1234567")],
                &passport_docs, vec![Code::PassportMalaysian]),
            ("mypr with PR line", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "800505-71-1234"),
                (Field::Nationality, "Indonesia (Permanent Resident)"), (Field::Reason, "OKU")],
                &mypr_docs, vec![]),
            ("mypr with Malay PR line", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "800505-71-1234"),
                (Field::Nationality, "Pemastautin Tetap"), (Field::Reason, "IDSAYA")],
                &mypr_docs, vec![]),
            ("mypr with country only", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "800505-71-1234"),
                (Field::Nationality, "Singapore"), (Field::Reason, "OKU")],
                &mypr_docs, vec![]),
            ("mypr citizen", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "800505-71-1234")],
                &mypr_docs, vec![Code::MyprNotPr]),
            ("mypr bad number", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "X1234"),
                (Field::Nationality, "PR"), (Field::Reason, "OKU")],
                &mypr_docs, vec![Code::MykadFormat]),
        ];
        for (what, changes, docs, want) in cases {
            let c = run(&fields_with(&changes), docs);
            assert_eq!(codes(&c), want, "{what}: {:?}", c.problems);
        }
        let c = run(
            &fields_with(&[
                (Field::IdType, "MyPR"),
                (Field::IdNumber, "800505-71-1234"),
                (Field::Nationality, "indonesia (PR)"),
                (Field::Reason, "OKU"),
            ]),
            &mypr_docs,
        );
        let app = c.application.unwrap();
        assert_eq!(app.nationality, "Indonesia (PR)");
        assert!(app.permanent_resident && !app.malaysian);
        let c = run(
            &fields_with(&[
                (Field::IdType, "MyPR"),
                (Field::IdNumber, "800505-71-1234"),
                (Field::Nationality, "Singapore"),
                (Field::Reason, "OKU"),
            ]),
            &mypr_docs,
        );
        assert!(c.application.unwrap().permanent_resident);
    }

    #[test]
    fn reason_rules() {
        let foreign = [
            (Field::IdType, "Passport"),
            (Field::IdNumber, "E12345678"),
            (Field::Nationality, "United Kingdom"),
        ];
        let passport_docs = vec![
            att("Borang.pdf", PDF),
            att("Passport.pdf", PDF),
            att("LOA.pdf", PDF),
        ];
        let with = |base: &[(Field, &'static str)], more: &[(Field, &'static str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(more);
            v
        };
        let mine: &[(Field, &str)] = &[];
        #[rustfmt::skip]
        let cases: Vec<(&str, Changes, bool, Vec<Code>)> = vec![
            ("luar negara abroad number", with(mine, &[]), true, vec![]),
            ("luar negara +60", with(mine, &[(Field::Phone, "012-345 6789")]), true,
                vec![Code::ReasonMalaysianPhone]),
            ("luar negara +86", with(mine, &[(Field::Phone, "+86 138 0013 8000")]), true,
                vec![Code::PhoneIdsayaCountry]),
            ("luar negara +886", with(mine, &[(Field::Phone, "+886 912 345 678")]), true,
                vec![Code::PhoneIdsayaCountry]),
            ("luar negara +81", with(mine, &[(Field::Phone, "+81 90 1234 5678")]), true,
                vec![Code::PhoneIdsayaCountry]),
            ("luar negara foreigner", with(&foreign, &[(Field::Reason, "LUAR_NEGARA")]), false,
                vec![Code::ReasonNotMalaysian]),
            ("warga asing foreigner", with(&foreign, &[(Field::Reason, "WARGA_ASING"),
                (Field::Phone, "+44 7911 123456")]), false, vec![]),
            ("warga asing +60", with(&foreign, &[(Field::Reason, "warga asing"),
                (Field::Phone, "+60 12-345 6789")]), false, vec![Code::ReasonMalaysianPhone]),
            ("warga asing +81", with(&foreign, &[(Field::Reason, "WARGA_ASING"),
                (Field::Phone, "+81 90 1234 5678")]), false, vec![Code::PhoneIdsayaCountry]),
            ("warga asing malaysian", with(mine, &[(Field::Reason, "WARGA_ASING")]), true,
                vec![Code::ReasonMalaysian]),
            ("warga asing malaysian +60", with(mine, &[(Field::Reason, "WARGA_ASING"),
                (Field::Phone, "0123456789")]), true,
                vec![Code::ReasonMalaysian, Code::ReasonMalaysianPhone]),
            ("idsaya +60", with(mine, &[(Field::Reason, "IDSAYA"), (Field::Phone, "0123456789")]),
                true, vec![]),
            ("idsaya +86", with(mine, &[(Field::Reason, "iDsaya"), (Field::Phone, "+8613800138000")]),
                true, vec![]),
            ("oku foreigner +60", with(&foreign, &[(Field::Reason, "OKU"), (Field::Phone, "0123456789")]),
                false, vec![]),
            ("oku malaysian +81", with(mine, &[(Field::Reason, "OKU"), (Field::Phone, "+819012345678")]),
                true, vec![]),
        ];
        for (what, changes, malaysian, want) in cases {
            let docs = if malaysian {
                spec_attachments()
            } else {
                passport_docs.clone()
            };
            let c = run(&fields_with(&changes), &docs);
            assert_eq!(codes(&c), want, "{what}: {:?}", c.problems);
            for p in &c.problems {
                assert!(
                    p.about.as_deref().and_then(Reason::parse).is_some(),
                    "{what}: {p:?}"
                );
            }
        }
    }

    #[test]
    fn attachment_rules() {
        use DocKind::*;
        let form = att("Borang Permohonan.pdf", PDF);
        let front = att("IC front.jpg", JPEG);
        let back = att("IC back.png", PNG);
        let both = att("MyKad depan belakang.pdf", PDF);
        let loa = att("LOA.pdf", PDF);
        let big = AttachmentMeta {
            size: 10 * 1024 * 1024 + 1,
            ..att("IC back.jpg", JPEG)
        };
        let at_limit = AttachmentMeta {
            size: 10 * 1024 * 1024,
            ..att("IC back.jpg", JPEG)
        };
        let empty = AttachmentMeta {
            size: 0,
            ..att("IC back.jpg", b"")
        };
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<AttachmentMeta>, Vec<Code>, Documents)> = vec![
            ("front+back", vec![form, front, back, loa], vec![],
                vec![Some(ApplicationForm), Some(MyKadFront), Some(MyKadBack), Some(Loa)]),
            ("both in one", vec![form, both, loa], vec![],
                vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa)]),
            ("at the size limit", vec![form, front, at_limit, loa], vec![],
                vec![Some(ApplicationForm), Some(MyKadFront), Some(MyKadBack), Some(Loa)]),
            ("nothing", vec![], vec![Code::FormMissing, Code::IdDocMissing, Code::LoaMissing], vec![]),
            ("no form", vec![front, back, loa], vec![Code::FormMissing],
                vec![Some(MyKadFront), Some(MyKadBack), Some(Loa)]),
            ("no loa", vec![form, front, back], vec![Code::LoaMissing],
                vec![Some(ApplicationForm), Some(MyKadFront), Some(MyKadBack)]),
            ("no id", vec![form, loa], vec![Code::IdDocMissing],
                vec![Some(ApplicationForm), Some(Loa)]),
            ("front only", vec![form, front, loa], vec![Code::MykadBackMissing],
                vec![Some(ApplicationForm), Some(MyKadFront), Some(Loa)]),
            ("back only", vec![form, back, loa], vec![Code::MykadFrontMissing],
                vec![Some(ApplicationForm), Some(MyKadBack), Some(Loa)]),
            ("mixed", vec![form, both, att("Passport.jpg", JPEG), loa], vec![Code::IdDocMixed],
                vec![Some(ApplicationForm), Some(MyKadBoth), Some(Passport), Some(Loa)]),
            ("wrong id kind", vec![form, att("Passport.jpg", JPEG), loa], vec![Code::IdDocMismatch],
                vec![Some(ApplicationForm), Some(Passport), Some(Loa)]),
            ("too large", vec![form, front, big, loa], vec![Code::AttachmentTooLarge],
                vec![Some(ApplicationForm), Some(MyKadFront), None, Some(Loa)]),
            ("empty", vec![form, front, empty, loa], vec![Code::AttachmentEmpty],
                vec![Some(ApplicationForm), Some(MyKadFront), None, Some(Loa)]),
            ("zip refused", vec![form, both, loa, att("docs.zip", ZIP)],
                vec![Code::AttachmentTypeRefused],
                vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
            ("exe refused", vec![form, both, loa, att("LOA.pdf.exe", EXE)],
                vec![Code::AttachmentTypeRefused],
                vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
            ("zip named pdf", vec![att("Borang.pdf", ZIP), both, loa],
                vec![Code::AttachmentTypeMismatch], vec![None, Some(MyKadBoth), Some(Loa)]),
            ("exe named jpg", vec![form, att("IC front.jpg", EXE), back, loa],
                vec![Code::AttachmentTypeMismatch],
                vec![Some(ApplicationForm), None, Some(MyKadBack), Some(Loa)]),
            ("png named jpg", vec![form, att("IC front.jpg", PNG), back, loa],
                vec![Code::AttachmentTypeMismatch],
                vec![Some(ApplicationForm), None, Some(MyKadBack), Some(Loa)]),
            ("docx", vec![form, both, att("LOA.docx", ZIP)], vec![Code::AttachmentTypeNotAllowed],
                vec![Some(ApplicationForm), Some(MyKadBoth), None]),
            ("unclassified", vec![form, both, loa, att("scan0001.pdf", PDF)],
                vec![Code::AttachmentUnclassified],
                vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
            ("form as image", vec![att("Borang.jpg", JPEG), both, loa], vec![Code::AttachmentNotPdf],
                vec![None, Some(MyKadBoth), Some(Loa)]),
            ("loa as image", vec![form, both, att("LOA.png", PNG)], vec![Code::AttachmentNotPdf],
                vec![Some(ApplicationForm), Some(MyKadBoth), None]),
            ("signature picture ignored", vec![form, both, loa, att("image001.png", PNG)], vec![],
                vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
            ("signature name, exe content", vec![form, both, loa, att("image001.png", EXE)],
                vec![Code::AttachmentTypeMismatch, Code::AttachmentUnclassified],
                vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
            ("two forms are fine", vec![form, form, both, loa], vec![],
                vec![Some(ApplicationForm), Some(ApplicationForm), Some(MyKadBoth), Some(Loa)]),
        ];
        for (what, attachments, want, docs) in cases {
            let c = run(&Fields::parse(SPEC_PACK), &attachments);
            assert_eq!(codes(&c), want, "{what}: {:?}", c.problems);
            assert_eq!(c.documents, docs, "{what}");
            assert_eq!(c.application.is_some(), want.is_empty(), "{what}");
        }
    }

    #[test]
    fn attachment_problems_name_a_safe_file_name() {
        let c = run(
            &Fields::parse(SPEC_PACK),
            &[att("../../\u{202E}fdp.exe", EXE)],
        );
        assert_eq!(
            c.problems[0],
            Problem::new(Code::AttachmentTypeRefused, Some("fdp.exe".to_string()))
        );
    }

    #[test]
    fn message_size_limit() {
        let f = Fields::parse(SPEC_PACK);
        let limits = Limits::default();
        let ok = check(
            &f,
            &spec_attachments(),
            limits.message_max,
            &limits,
            today(),
        );
        assert_eq!(ok.problems, vec![]);
        let big = check(
            &f,
            &spec_attachments(),
            limits.message_max + 1,
            &limits,
            today(),
        );
        assert_eq!(codes(&big), vec![Code::MessageTooLarge]);
        assert!(big.application.is_none());
        let tight = Limits {
            attachment_max: 10,
            message_max: 100,
        };
        let c = check(&f, &[att("LOA.pdf", PDF)], 50, &tight, today());
        assert!(codes(&c).contains(&Code::AttachmentTooLarge));
    }

    #[test]
    fn every_problem_is_collected() {
        let c = run(&Fields::default(), &[att("docs.zip", ZIP)]);
        let mut want = vec![Code::FieldMissing; 10];
        want.extend([
            Code::AttachmentTypeRefused,
            Code::FormMissing,
            Code::IdDocMissing,
            Code::LoaMissing,
        ]);
        assert_eq!(codes(&c), want);
        let named: Vec<Option<Field>> = c.problems[..10].iter().map(Problem::about_field).collect();
        assert_eq!(named, Field::ALL.map(Some).to_vec());
        assert!(c.application.is_none());
    }

    #[test]
    fn choices_parse() {
        let ids = [
            ("MyKad", Some(IdType::MyKad)),
            ("mykad", Some(IdType::MyKad)),
            ("My-Kad", Some(IdType::MyKad)),
            ("MyPR", Some(IdType::MyPr)),
            ("Pasport", Some(IdType::Passport)),
            ("Pasport/Passport", Some(IdType::Passport)),
            ("Passport (UK)", Some(IdType::Passport)),
            ("licence", None),
            ("", None),
        ];
        for (raw, want) in ids {
            assert_eq!(IdType::parse(raw), want, "{raw:?}");
        }
        let roles = [
            ("Pembeli", Some(Role::Pembeli)),
            ("BUYER", Some(Role::Pembeli)),
            ("Saksi", Some(Role::Saksi)),
            ("Witness", Some(Role::Saksi)),
            ("Tuan Tanah", Some(Role::TuanTanah)),
            ("TuanTanah", Some(Role::TuanTanah)),
            ("Landowner", Some(Role::TuanTanah)),
            ("Land Owner", Some(Role::TuanTanah)),
            ("Pemaju", Some(Role::Pemaju)),
            ("Developer", Some(Role::Pemaju)),
            ("Pembeli / Buyer", Some(Role::Pembeli)),
            ("Pembeli / Saksi", None),
            ("Owner", None),
        ];
        for (raw, want) in roles {
            assert_eq!(Role::parse(raw), want, "{raw:?}");
        }
        for r in [Role::Pembeli, Role::Saksi, Role::TuanTanah, Role::Pemaju] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(Role::parse(r.as_en()), Some(r));
        }
        let reasons = [
            ("LUAR_NEGARA", Some(Reason::LuarNegara)),
            ("luar negara", Some(Reason::LuarNegara)),
            ("Luar-Negara", Some(Reason::LuarNegara)),
            ("WARGA_ASING", Some(Reason::WargaAsing)),
            ("Warga Asing", Some(Reason::WargaAsing)),
            ("IDSAYA", Some(Reason::Idsaya)),
            ("iDsaya", Some(Reason::Idsaya)),
            ("OKU", Some(Reason::Oku)),
            ("LUAR_NEGARA (Malaysian abroad)", Some(Reason::LuarNegara)),
            ("busy", None),
            ("", None),
        ];
        for (raw, want) in reasons {
            assert_eq!(Reason::parse(raw), want, "{raw:?}");
        }
        for r in [
            Reason::Idsaya,
            Reason::LuarNegara,
            Reason::WargaAsing,
            Reason::Oku,
        ] {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn nationality_readings() {
        let cases = [
            ("Malaysia", Some(("Malaysia", true, false))),
            ("MALAYSIAN", Some(("Malaysia", true, false))),
            ("Warganegara Malaysia", Some(("Malaysia", true, false))),
            ("MY", Some(("Malaysia", true, false))),
            ("mys", Some(("Malaysia", true, false))),
            ("Malaysian citizen", Some(("Malaysia", true, false))),
            ("Indonesia", Some(("Indonesia", false, false))),
            ("united KINGDOM", Some(("United Kingdom", false, false))),
            ("USA", Some(("USA", false, false))),
            (
                "Permanent Resident",
                Some(("Permanent Resident", false, true)),
            ),
            (
                "Pemastautin Tetap",
                Some(("Pemastautin Tetap", false, true)),
            ),
            ("Malaysia PR", Some(("Malaysia PR", false, true))),
            (
                "Indonesia (Penduduk Tetap)",
                Some(("Indonesia (Penduduk Tetap)", false, true)),
            ),
            (
                "Bukan Warganegara",
                Some(("Bukan Warganegara", false, false)),
            ),
            ("Ya", None),
            ("yes", None),
            ("60", None),
            ("Malaysia!", None),
            ("M", None),
            ("", None),
        ];
        for (raw, want) in cases {
            let got = nationality(raw).map(|n| (n.name, n.malaysian, n.permanent_resident));
            let want = want.map(|(n, m, p)| (n.to_string(), m, p));
            assert_eq!(got, want, "{raw:?}");
        }
    }

    #[test]
    fn small_readers() {
        let refs = [
            ("HDA-2026-000123", Some("HDA-2026-000123")),
            (" hda-2026-000123 ", Some("HDA-2026-000123")),
            ("HDA–2026–000123", Some("HDA-2026-000123")),
            ("KPKT-000123", Some("KPKT-000123")),
            ("A-1", None),
            ("2026-000123", None),
            ("HDA-2026-", None),
            ("HDA_2026_000123", None),
            ("HDA-2026-000123-1-2", None),
            ("", None),
        ];
        for (raw, want) in refs {
            assert_eq!(espa_ref(raw).as_deref(), want, "{raw:?}");
        }
        let emails = [
            ("ali@example.com", Some("ali@example.com")),
            (
                "Ali.Abu+espa@Mail.Example.MY",
                Some("ali.abu+espa@mail.example.my"),
            ),
            ("o'neil@example.co.uk", Some("o'neil@example.co.uk")),
            ("ali@example", None),
            ("ali@@example.com", None),
            ("@example.com", None),
            ("ali@", None),
            ("ali@.com", None),
            ("ali@example..com", None),
            ("ali.@example.com", None),
            ("a..b@example.com", None),
            ("ali@-x.com", None),
            ("ali@example.c0m", None),
            ("ali@exa mple.com", None),
            ("<ali@example.com>", None),
            ("ali@example.com;bob@example.com", None),
        ];
        for (raw, want) in emails {
            assert_eq!(email(raw).as_deref(), want, "{raw:?}");
        }
        let passports = [
            ("A1234567", Some("A1234567")),
            ("a 123-4567", Some("A1234567")),
            ("E12345678", Some("E12345678")),
            ("ABCDEFG", None),
            ("A12", None),
            ("A1234567/B", None),
        ];
        for (raw, want) in passports {
            assert_eq!(passport_number(raw).as_deref(), want, "{raw:?}");
        }
    }

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
        let p = Problem::new(Code::ReasonMalaysianPhone, Some("LUAR_NEGARA".into()));
        assert_eq!(
            p.ms(),
            "Sebab LUAR_NEGARA tidak boleh digunakan dengan nombor telefon Malaysia (+60)."
        );
    }

    #[test]
    fn checked_serialises() {
        let c = run(&Fields::parse(SPEC_PACK), &spec_attachments());
        let back: Checked = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
