//! A signee's phone number, read the way Malaysian clerks write it.
//!
//! International form (`+971 50 123 4567`, `00971…`) is read as written; a
//! Malaysian number written locally (`012-345 6789`, `03-1234 5678`) or with
//! the country code but no `+` (`6012-345 6789`) is read as +60. Anything
//! else without a country code is refused rather than guessed. Validity comes
//! from libphonenumber's metadata (the `phonenumber` crate).

use phonenumber::{Mode, country};

/// A valid phone number in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Phone {
    /// `+` and digits, e.g. `+971501234567`.
    pub e164: String,
    pub country_code: u16,
}

impl Phone {
    /// A Malaysian (+60) number.
    pub fn is_malaysian(&self) -> bool {
        self.country_code == 60
    }

    /// A number iDsaya serves (China +86, Taiwan +886, Japan +81): its holder
    /// can do eKYC in the app, so is not eligible for the manual route as a
    /// LUAR_NEGARA or WARGA_ASING applicant.
    pub fn is_idsaya_served(&self) -> bool {
        matches!(self.country_code, 86 | 886 | 81)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("no phone number given")]
    Empty,
    #[error(
        "the phone number has characters other than digits, +, spaces, dashes, dots or brackets"
    )]
    BadCharacters,
    #[error("the phone number has no country code (write it as +<country code> <number>)")]
    NotInternational,
    #[error("not a valid phone number")]
    Invalid,
}

/// The fewest and most digits a number can have with its country code.
const MIN_DIGITS: usize = 8;
const MAX_DIGITS: usize = 15;

/// Reads `raw` into E.164, or says why not.
pub fn normalise(raw: &str) -> Result<Phone, PhoneError> {
    let dialled = dialled(raw)?;
    let candidate = match dialled {
        Dialled::International(digits) => format!("+{digits}"),
        Dialled::Trunk(digits) => format!("+60{}", &digits[1..]),
        Dialled::Bare(digits) if digits.starts_with("60") => format!("+{digits}"),
        Dialled::Bare(_) => return Err(PhoneError::NotInternational),
    };
    let digit_count = candidate.len() - 1;
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digit_count) {
        return Err(PhoneError::Invalid);
    }
    // The input reaching the parser is only `+` and ASCII digits; the guard
    // still keeps a parser bug from taking the daemon down.
    let parsed = std::panic::catch_unwind(|| phonenumber::parse(Some(country::Id::MY), &candidate))
        .map_err(|_| PhoneError::Invalid)?
        .map_err(|_| PhoneError::Invalid)?;
    if !phonenumber::is_valid(&parsed) {
        return Err(PhoneError::Invalid);
    }
    Ok(Phone {
        e164: parsed.format().mode(Mode::E164).to_string(),
        country_code: parsed.code().value(),
    })
}

/// How a number was written, reduced to its digits.
enum Dialled {
    /// `+…` or the international prefix `00…`.
    International(String),
    /// A Malaysian trunk prefix `0…` (a local number).
    Trunk(String),
    /// Digits only, neither `+` nor a leading `0`.
    Bare(String),
}

fn dialled(raw: &str) -> Result<Dialled, PhoneError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(PhoneError::Empty);
    }
    // A trailing note, `+971 50 123 4567 (WhatsApp)`, is not part of the number.
    let raw = match raw.rfind('(') {
        Some(at) if raw.ends_with(')') && raw[at..].chars().any(char::is_alphabetic) => {
            raw[..at].trim_end()
        }
        _ => raw,
    };
    // `+60 (0)12-345 6789`: the bracketed trunk prefix is not dialled from abroad.
    let raw = raw.replace("(0)", "");
    let mut plus = false;
    let mut digits = String::new();
    for (i, c) in raw.trim().chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' | '＋' if i == 0 => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '\u{00A0}' | '\u{2010}' | '\u{2011}' | '\u{2013}' => {}
            _ => return Err(PhoneError::BadCharacters),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    Ok(if plus {
        Dialled::International(digits)
    } else if let Some(rest) = digits.strip_prefix("00") {
        Dialled::International(rest.to_string())
    } else if digits.starts_with('0') {
        Dialled::Trunk(digits)
    } else {
        Dialled::Bare(digits)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let cases = [
            ("+971501234567", "+971501234567", 971),
            ("+971 50 123 4567", "+971501234567", 971),
            ("00971501234567", "+971501234567", 971),
            ("00 971 50-123-4567", "+971501234567", 971),
            ("+971 (50) 123 4567", "+971501234567", 971),
            ("012-345 6789", "+60123456789", 60),
            ("0123456789", "+60123456789", 60),
            ("03-2161 2345", "+60321612345", 60),
            ("011-2345 6789", "+601123456789", 60),
            ("+60 12-345 6789", "+60123456789", 60),
            ("+60 (0)12-345 6789", "+60123456789", 60),
            ("6012-345 6789", "+60123456789", 60),
            ("60123456789", "+60123456789", 60),
            ("  +65 9123 4567  ", "+6591234567", 65),
            ("+65\u{00A0}9123\u{00A0}4567", "+6591234567", 65),
            ("+44 7911 123456", "+447911123456", 44),
            ("+86 138 0013 8000", "+8613800138000", 86),
            ("+886 912 345 678", "+886912345678", 886),
            ("+81 90-1234-5678", "+819012345678", 81),
            ("+1 (415) 555-2671", "+14155552671", 1),
            ("+62 812-3456-7890", "+6281234567890", 62),
            ("+971 50 123 4567 (WhatsApp)", "+971501234567", 971),
            ("012-345 6789 (bimbit)", "+60123456789", 60),
        ];
        for (raw, e164, cc) in cases {
            let p = normalise(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
            assert_eq!(p.e164, e164, "{raw:?}");
            assert_eq!(p.country_code, cc, "{raw:?}");
        }
    }

    #[test]
    fn refused_forms() {
        let cases = [
            ("", PhoneError::Empty),
            ("   ", PhoneError::Empty),
            ("+", PhoneError::Empty),
            ("---", PhoneError::Empty),
            ("012-345 6789 ext 12", PhoneError::BadCharacters),
            ("call me", PhoneError::BadCharacters),
            ("(WhatsApp)", PhoneError::Empty),
            ("012-3456789 / 019-8765432", PhoneError::BadCharacters),
            ("60+123456789", PhoneError::BadCharacters),
            ("  2 22#:", PhoneError::BadCharacters),
            ("971501234567", PhoneError::NotInternational),
            ("91234567", PhoneError::NotInternational),
            ("012-345", PhoneError::Invalid),
            ("+971", PhoneError::Invalid),
            ("+1234567890123456", PhoneError::Invalid),
            ("+999 123 456 789", PhoneError::Invalid),
            ("+971 00 000 0000", PhoneError::Invalid),
            ("00000000000", PhoneError::Invalid),
            ("0000000000", PhoneError::Invalid),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise(raw), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn country_predicates() {
        let cases = [
            ("+60123456789", true, false),
            ("+971501234567", false, false),
            ("+8613800138000", false, true),
            ("+886912345678", false, true),
            ("+819012345678", false, true),
            ("+6591234567", false, false),
        ];
        for (raw, my, idsaya) in cases {
            let p = normalise(raw).unwrap();
            assert_eq!(p.is_malaysian(), my, "{raw}");
            assert_eq!(p.is_idsaya_served(), idsaya, "{raw}");
        }
    }
}
