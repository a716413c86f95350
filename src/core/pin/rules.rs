//! What makes a certificate PIN acceptable (SPEC §7): 6 to 12 digits, not
//! one digit repeated, not a straight run, and typed the same twice.
//!
//! A straight run is a PIN whose every digit is the one before plus one,
//! or every one minus one, counting round the dial: `123456`, `987654`, and
//! also `890123` or `210987`. A run that wraps past 9 (or 0) is just as
//! easy to guess as one that does not, so it is refused too.
//!
//! Each mistake has a stable code and a sentence in Malay and in English;
//! none of them repeats what was typed.

use serde::Serialize;

/// The fewest and the most digits a PIN may have.
pub const MIN_DIGITS: usize = 6;
pub const MAX_DIGITS: usize = 12;

/// One reason a PIN is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Mistake {
    /// Nothing typed in the first field.
    Missing,
    /// Something other than the digits 0–9.
    NotDigits,
    /// Fewer than [`MIN_DIGITS`] or more than [`MAX_DIGITS`].
    Length,
    /// One digit repeated (`111111`).
    OneDigit,
    /// A straight run up or down, wrapping or not (`123456`, `987654`, `890123`).
    Run,
    /// The two entries differ.
    Mismatch,
}

impl Mistake {
    pub const ALL: [Mistake; 6] = [
        Mistake::Missing,
        Mistake::NotDigits,
        Mistake::Length,
        Mistake::OneDigit,
        Mistake::Run,
        Mistake::Mismatch,
    ];

    /// The stable code, shown beside the sentences and kept in the history.
    pub fn code(self) -> &'static str {
        match self {
            Mistake::Missing => "PIN_MISSING",
            Mistake::NotDigits => "PIN_NOT_DIGITS",
            Mistake::Length => "PIN_LENGTH",
            Mistake::OneDigit => "PIN_ONE_DIGIT",
            Mistake::Run => "PIN_RUN",
            Mistake::Mismatch => "PIN_MISMATCH",
        }
    }

    pub fn ms(self) -> &'static str {
        match self {
            Mistake::Missing => "Sila masukkan PIN.",
            Mistake::NotDigits => "PIN mesti mengandungi angka 0 hingga 9 sahaja.",
            Mistake::Length => "PIN mesti antara 6 hingga 12 digit.",
            Mistake::OneDigit => {
                "PIN tidak boleh terdiri daripada satu digit yang diulang, seperti 111111."
            }
            Mistake::Run => {
                "PIN tidak boleh berupa urutan digit menaik atau menurun, seperti 123456, \
                 987654 atau 890123."
            }
            Mistake::Mismatch => "Kedua-dua PIN yang dimasukkan tidak sama.",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Mistake::Missing => "Please enter a PIN.",
            Mistake::NotDigits => "The PIN must contain only the digits 0 to 9.",
            Mistake::Length => "The PIN must be 6 to 12 digits long.",
            Mistake::OneDigit => "The PIN cannot be one digit repeated, such as 111111.",
            Mistake::Run => {
                "The PIN cannot be a straight run of digits up or down, such as 123456, \
                 987654 or 890123."
            }
            Mistake::Mismatch => "The two PINs you entered do not match.",
        }
    }
}

/// Every mistake of the PIN `pin` typed again as `again`, in the order
/// the page lists them; empty when the PIN is acceptable. What is wrong
/// with the first entry is named first (only the first way it fails the
/// format: a PIN of letters is not also "too short"), then whether the
/// second matches it.
pub fn check(pin: &str, again: &str) -> Vec<Mistake> {
    let mut mistakes = Vec::new();
    if let Some(m) = format_mistake(pin) {
        mistakes.push(m);
    }
    if !pin.is_empty() && pin != again {
        mistakes.push(Mistake::Mismatch);
    }
    mistakes
}

fn format_mistake(pin: &str) -> Option<Mistake> {
    if pin.is_empty() {
        return Some(Mistake::Missing);
    }
    if !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Mistake::NotDigits);
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&pin.len()) {
        return Some(Mistake::Length);
    }
    let digits: Vec<u8> = pin.bytes().map(|b| b - b'0').collect();
    // Each step from one digit to the next, round the dial.
    let steps: Vec<u8> = digits.windows(2).map(|w| (w[1] + 10 - w[0]) % 10).collect();
    match steps.first() {
        Some(0) if steps.iter().all(|&s| s == 0) => Some(Mistake::OneDigit),
        Some(&step @ (1 | 9)) if steps.iter().all(|&s| s == step) => Some(Mistake::Run),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Mistake::*;
    use super::*;

    #[test]
    fn the_rules_table() {
        let table: &[(&str, &str, &[Mistake])] = &[
            ("482915", "482915", &[]),
            ("104729", "104729", &[]),
            ("123457", "123457", &[]),
            ("112233", "112233", &[]),
            ("135791", "135791", &[]),
            ("482915048291", "482915048291", &[]),
            ("", "", &[Missing]),
            ("", "482915", &[Missing]),
            ("48291a", "48291a", &[NotDigits]),
            ("4829 15", "4829 15", &[NotDigits]),
            ("٤٨٢٩١٥", "٤٨٢٩١٥", &[NotDigits]),
            ("-48291", "-48291", &[NotDigits]),
            ("48291", "48291", &[Length]),
            ("4829150482915", "4829150482915", &[Length]),
            ("000000", "000000", &[OneDigit]),
            ("777777777777", "777777777777", &[OneDigit]),
            ("123456", "123456", &[Run]),
            ("987654", "987654", &[Run]),
            ("890123", "890123", &[Run]),
            ("210987", "210987", &[Run]),
            ("012345678901", "012345678901", &[Run]),
            ("482915", "482916", &[Mismatch]),
            ("482915", "", &[Mismatch]),
            ("123456", "654321", &[Run, Mismatch]),
            ("12345", "1234", &[Length, Mismatch]),
        ];
        for (pin, again, want) in table {
            assert_eq!(check(pin, again), *want, "{pin:?} / {again:?}");
        }
    }

    #[test]
    fn every_mistake_has_a_code_and_both_sentences_without_echoing() {
        let mut codes = std::collections::HashSet::new();
        for m in Mistake::ALL {
            assert!(codes.insert(m.code()), "{m:?}: a code of its own");
            assert!(m.code().starts_with("PIN_"));
            assert!(m.ms().ends_with('.') && m.en().ends_with('.'), "{m:?}");
            assert_ne!(m.ms(), m.en(), "{m:?}: Malay is not the English");
        }
    }
}
