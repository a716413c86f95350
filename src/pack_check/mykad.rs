//! The Malaysian identity card number (MyKad; MyPR cards use the same form).
//!
//! Twelve digits `YYMMDD-PB-###G`: the holder's birth date, the place-of-birth
//! code of the National Registration Department (JPN), a serial number and a
//! digit whose parity gives the sex. There is no check digit, so the checks
//! are: the shape, a real calendar date, and a code JPN actually issues.
//! Pure: "today" is an argument, so the century rule is testable.

use chrono::NaiveDate;

/// A well-formed identity card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyKad {
    /// Always `YYMMDD-PB-###G`.
    pub normalised: String,
    pub birth_date: NaiveDate,
    pub place_code: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MyKadError {
    #[error("not 12 digits written as YYMMDD-PB-###G")]
    Format,
    #[error("the first six digits are not a real date of birth")]
    Date,
    #[error("the place-of-birth code (digits 7–8) is not one JPN issues")]
    Place,
}

/// Checks `number` (with dashes, spaces, or neither) and normalises it.
///
/// Century: a birth date cannot be in the future, so `YY` is read as 20YY
/// when that date is not after `today`, and as 19YY otherwise.
pub fn check(number: &str, today: NaiveDate) -> Result<MyKad, MyKadError> {
    let digits = digits_of(number).ok_or(MyKadError::Format)?;
    let d = digits.as_bytes();
    let two = |at: usize| u32::from(d[at] - b'0') * 10 + u32::from(d[at + 1] - b'0');
    let (yy, mm, dd) = (two(0), two(2), two(4));
    let birth_date = [2000, 1900]
        .into_iter()
        .filter_map(|century| NaiveDate::from_ymd_opt(century + yy as i32, mm, dd))
        .find(|d| *d <= today)
        .ok_or(MyKadError::Date)?;
    let place_code = two(6) as u8;
    if !is_issued_place_code(place_code) {
        return Err(MyKadError::Place);
    }
    Ok(MyKad {
        normalised: format!("{}-{}-{}", &digits[..6], &digits[6..8], &digits[8..]),
        birth_date,
        place_code,
    })
}

/// The twelve ASCII digits of `number` when it is only digits, dashes and
/// spaces (including the non-breaking kind) with exactly twelve digits.
fn digits_of(number: &str) -> Option<String> {
    let mut digits = String::with_capacity(12);
    for c in number.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | ' ' | '\u{00A0}' | '\u{2010}' | '\u{2011}' | '\u{2013}' => {}
            _ => return None,
        }
        if digits.len() > 12 {
            return None;
        }
    }
    (digits.len() == 12).then_some(digits)
}

/// The place-of-birth codes JPN issues: 01–16 and 21–59 for the states,
/// 60–68 and 71–93 (less 73, 80, 81) for places abroad, 98 stateless,
/// 99 unspecified. 00, 17–20, 69, 70, 73, 80, 81 and 94–97 are not issued.
pub fn is_issued_place_code(code: u8) -> bool {
    matches!(code, 1..=16 | 21..=59 | 60..=68 | 71 | 72 | 74..=79 | 82..=93 | 98 | 99)
}

/// A form safe for logs and emails: `900101-14-****` for a card number; for
/// anything else the first two characters and the rest masked.
pub fn masked(number: &str) -> String {
    if let Some(d) = digits_of(number) {
        return format!("{}-{}-****", &d[..6], &d[6..8]);
    }
    let mut out: String = number
        .trim()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .enumerate()
        .map(|(i, c)| if i < 2 { c } else { '*' })
        .take(20)
        .collect();
    if out.is_empty() {
        out.push('*');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn valid_numbers_are_normalised() {
        let cases = [
            ("900101-14-5673", "900101-14-5673", date(1990, 1, 1), 14),
            ("900101145673", "900101-14-5673", date(1990, 1, 1), 14),
            ("900101 14 5673", "900101-14-5673", date(1990, 1, 1), 14),
            (
                " 900101\u{00A0}14\u{00A0}5673 ",
                "900101-14-5673",
                date(1990, 1, 1),
                14,
            ),
            ("040229-01-1234", "040229-01-1234", date(2004, 2, 29), 1),
            ("000229-16-0001", "000229-16-0001", date(2000, 2, 29), 16),
            ("260315-21-0002", "260315-21-0002", date(2026, 3, 15), 21),
            ("260316-21-0002", "260316-21-0002", date(1926, 3, 16), 21),
            ("991231-99-9999", "991231-99-9999", date(1999, 12, 31), 99),
            ("750615-71-5555", "750615-71-5555", date(1975, 6, 15), 71),
            ("750615-98-5555", "750615-98-5555", date(1975, 6, 15), 98),
        ];
        for (input, norm, born, place) in cases {
            let k = check(input, today()).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(k.normalised, norm, "{input}");
            assert_eq!(k.birth_date, born, "{input}");
            assert_eq!(k.place_code, place, "{input}");
        }
    }

    #[test]
    fn invalid_numbers_say_why() {
        let cases = [
            ("", MyKadError::Format),
            ("90010114567", MyKadError::Format),
            ("9001011456733", MyKadError::Format),
            ("900101-14-567A", MyKadError::Format),
            ("900101/14/5673", MyKadError::Format),
            ("A1234567", MyKadError::Format),
            ("٩٠٠١٠١١٤٥٦٧٣", MyKadError::Format),
            ("901301-14-5673", MyKadError::Date),
            ("900132-14-5673", MyKadError::Date),
            ("900230-14-5673", MyKadError::Date),
            ("010229-14-5673", MyKadError::Date),
            ("900001-14-5673", MyKadError::Date),
            ("900100-14-5673", MyKadError::Date),
            ("900101-00-5673", MyKadError::Place),
            ("900101-17-5673", MyKadError::Place),
            ("900101-20-5673", MyKadError::Place),
            ("900101-69-5673", MyKadError::Place),
            ("900101-70-5673", MyKadError::Place),
            ("900101-73-5673", MyKadError::Place),
            ("900101-80-5673", MyKadError::Place),
            ("900101-81-5673", MyKadError::Place),
            ("900101-94-5673", MyKadError::Place),
            ("900101-97-5673", MyKadError::Place),
        ];
        for (input, want) in cases {
            assert_eq!(check(input, today()), Err(want), "{input:?}");
        }
    }

    #[test]
    fn place_codes_follow_the_jpn_table() {
        let issued: Vec<u8> = (0..=99).filter(|c| is_issued_place_code(*c)).collect();
        let mut want: Vec<u8> = (1..=16).chain(21..=68).collect();
        want.extend([71, 72]);
        want.extend(74..=79);
        want.extend(82..=93);
        want.extend([98, 99]);
        assert_eq!(issued, want);
    }

    #[test]
    fn masking() {
        let cases = [
            ("900101-14-5673", "900101-14-****"),
            ("900101145673", "900101-14-****"),
            ("A12345678", "A1*******"),
            ("", "*"),
            ("--", "*"),
        ];
        for (input, want) in cases {
            assert_eq!(masked(input), want, "{input:?}");
        }
    }
}
