//! The three choices a pack makes in words: the ID Type, the signee's
//! role and the reason for the manual route. Each reads the forms a clerk
//! writes (either language, both, a trailing note) and carries its labels,
//! so every email and page names a choice the same way.

use serde::{Deserialize, Serialize};

use super::attachment::DocKind;

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

    /// How emails show the ID Type: both words where the languages differ.
    pub fn label(self) -> &'static str {
        match self {
            IdType::MyKad => "MyKad",
            IdType::MyPr => "MyPR",
            IdType::Passport => "Pasport / Passport",
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
    pub(super) fn of_document(kind: DocKind) -> Option<IdType> {
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
pub enum SigneeRole {
    Pembeli,
    Saksi,
    TuanTanah,
    Pemaju,
}

impl SigneeRole {
    /// The Malay name, as the SPEC and the registration write it.
    pub fn as_str(self) -> &'static str {
        match self {
            SigneeRole::Pembeli => "Pembeli",
            SigneeRole::Saksi => "Saksi",
            SigneeRole::TuanTanah => "Tuan Tanah",
            SigneeRole::Pemaju => "Pemaju",
        }
    }

    /// The English name, shown beside the Malay one in emails.
    pub fn as_en(self) -> &'static str {
        match self {
            SigneeRole::Pembeli => "Buyer",
            SigneeRole::Saksi => "Witness",
            SigneeRole::TuanTanah => "Landowner",
            SigneeRole::Pemaju => "Developer",
        }
    }

    /// Reads the Malay or the English name (`Tuan Tanah`, `Landowner`, …).
    pub fn parse(raw: &str) -> Option<SigneeRole> {
        parse_choice(raw, |key| match key {
            "pembeli" | "buyer" | "purchaser" => Some(SigneeRole::Pembeli),
            "saksi" | "witness" => Some(SigneeRole::Saksi),
            "tuantanah" | "landowner" | "pemiliktanah" => Some(SigneeRole::TuanTanah),
            "pemaju" | "developer" => Some(SigneeRole::Pemaju),
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
    pub const ALL: [Reason; 4] = [
        Reason::Idsaya,
        Reason::LuarNegara,
        Reason::WargaAsing,
        Reason::Oku,
    ];

    /// The code as the SPEC writes it (`LUAR_NEGARA`); stable.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Idsaya => "IDSAYA",
            Reason::LuarNegara => "LUAR_NEGARA",
            Reason::WargaAsing => "WARGA_ASING",
            Reason::Oku => "OKU",
        }
    }

    /// The reason whose code is exactly `code` (as [`Reason::as_str`]
    /// writes it); for data already checked, unlike the lenient `parse`.
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// The reason explained, in Malay and in English (SPEC §4).
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            Reason::Idsaya => (
                "Tidak dapat melengkapkan eKYC dalam aplikasi iDsaya",
                "Unable to complete eKYC in the iDsaya app",
            ),
            Reason::LuarNegara => (
                "Warganegara Malaysia yang berada di luar negara",
                "Malaysian citizen abroad",
            ),
            Reason::WargaAsing => ("Warga asing", "Foreign national"),
            // Shown beside the code (`OKU (Orang Kurang Upaya / …)`), so
            // the code is not repeated inside.
            Reason::Oku => ("Orang Kurang Upaya", "Person with disability"),
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

#[cfg(test)]
mod tests {
    use super::*;

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
            ("Pembeli", Some(SigneeRole::Pembeli)),
            ("BUYER", Some(SigneeRole::Pembeli)),
            ("Saksi", Some(SigneeRole::Saksi)),
            ("Witness", Some(SigneeRole::Saksi)),
            ("Tuan Tanah", Some(SigneeRole::TuanTanah)),
            ("TuanTanah", Some(SigneeRole::TuanTanah)),
            ("Landowner", Some(SigneeRole::TuanTanah)),
            ("Land Owner", Some(SigneeRole::TuanTanah)),
            ("Pemaju", Some(SigneeRole::Pemaju)),
            ("Developer", Some(SigneeRole::Pemaju)),
            ("Pembeli / Buyer", Some(SigneeRole::Pembeli)),
            ("Pembeli / Saksi", None),
            ("Owner", None),
        ];
        for (raw, want) in roles {
            assert_eq!(SigneeRole::parse(raw), want, "{raw:?}");
        }
        for r in [
            SigneeRole::Pembeli,
            SigneeRole::Saksi,
            SigneeRole::TuanTanah,
            SigneeRole::Pemaju,
        ] {
            assert_eq!(SigneeRole::parse(r.as_str()), Some(r));
            assert_eq!(SigneeRole::parse(r.as_en()), Some(r));
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
    fn labels_read() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.as_str()), Some(r));
            let (ms, en) = r.labels();
            assert!(!ms.is_empty() && !en.is_empty() && ms != en, "{r:?}");
        }
        assert_eq!(Reason::from_code("luar negara"), None);
        assert_eq!(Reason::LuarNegara.labels().1, "Malaysian citizen abroad");
        assert_eq!(IdType::Passport.label(), "Pasport / Passport");
        assert_eq!(IdType::MyPr.label(), "MyPR");
        assert_eq!(SigneeRole::TuanTanah.as_en(), "Landowner");
    }
}
