//! Small readers of one field value each: a passport number, an eSPA
//! reference, a signing order, a full name, an email address, a
//! nationality. Each returns the normal form or `None`.

use crate::address;

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
pub(super) fn order(raw: &str) -> Option<u32> {
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
pub(super) fn full_name(raw: &str) -> Option<String> {
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

/// A signee's email address: valid by the crate's one rule
/// ([`crate::address`]) and on a public domain, since the RA writes to it;
/// lower case.
pub fn email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    (address::is_valid(&e) && address::has_public_domain(&e)).then_some(e)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
