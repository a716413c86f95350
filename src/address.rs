//! The one rule for what a mail address looks like, shared by the pack check
//! (a signee's `Emel / Email` line) and the configuration (senders, staff,
//! developers), so an address one accepts the other does not refuse.
//!
//! The rule is practical, not the whole of RFC 5322: a dot-atom local part
//! and a domain of dot-separated labels, nothing quoted, no comments, no
//! spaces. Letters and digits may be any script (RFC 6531 local parts, IDN
//! domains written as U-labels), because Malaysian mail carries them and
//! the SMTP server, not this check, decides whether it can deliver there.
//! Whether the domain is one the internet can reach is a separate question
//! ([`has_public_domain`]): the RA's own addresses may live on `localhost`
//! in a test set-up, a signee's may not.

/// Characters a local part may carry besides letters, digits and dots
/// (RFC 5322 atext).
const ATEXT: &str = "!#$%&'*+-/=?^_`{|}~";

/// RFC 5321's limit on a whole address (the forward path less its `<>`).
const MAX_ADDRESS: usize = 254;
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;

/// Whether `addr` (a bare `local@domain`, no display name or `<>`) is an
/// address: one `@`; a local part of 1–64 bytes of letters, digits, atext
/// and dots, not starting or ending with a dot nor holding two in a row; a
/// domain per [`is_domain`]; at most 254 bytes in all.
pub fn is_valid(addr: &str) -> bool {
    let Some((local, domain)) = addr.split_once('@') else {
        return false;
    };
    addr.len() <= MAX_ADDRESS
        && (1..=MAX_LOCAL).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || ATEXT.contains(c))
        && is_domain(domain)
}

/// Whether `domain` is a host name: labels of 1–63 bytes of letters, digits
/// and inner hyphens, joined by dots, at most 253 bytes. A single label
/// (`localhost`) passes.
pub fn is_domain(domain: &str) -> bool {
    (1..=MAX_DOMAIN).contains(&domain.len())
        && domain.split('.').all(|label| {
            (1..=MAX_LABEL).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Whether the domain of a valid `addr` could be on the internet: at least
/// two labels, the last a top-level domain of two or more letters (not
/// `localhost`, not `example.c0m`).
pub fn has_public_domain(addr: &str) -> bool {
    let Some((_, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    match domain.rsplit_once('.') {
        Some((rest, tld)) => {
            !rest.is_empty() && tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic)
        }
        None => false,
    }
}

/// `Name <a@b>`, `<a@b>` or `a@b`, trimmed and lowercased, as `a@b`: the
/// form addresses are compared in.
pub fn bare(addr: &str) -> String {
    let addr = addr.trim();
    let inner = match (addr.rfind('<'), addr.strip_suffix('>')) {
        (Some(open), Some(without_close)) => &without_close[open + 1..],
        _ => addr,
    };
    inner.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_as_a_table() {
        let long_local = format!("{}@example.my", "a".repeat(65));
        let long_label = format!("ali@{}.my", "b".repeat(64));
        // 256 bytes, though each part is within its own limit.
        let long_address = format!(
            "{}@{}.my",
            "a".repeat(64),
            vec!["c".repeat(62); 3].join(".")
        );
        // (address, is_valid, has_public_domain)
        let cases: &[(&str, bool, bool)] = &[
            ("ali@example.com", true, true),
            ("ali.abu+espa@mail.example.my", true, true),
            ("Ali.Abu@Mail.Example.MY", true, true),
            ("o'neil@example.co.uk", true, true),
            ("a!#$%&*/=?^_`{|}~-@b.my", true, true),
            ("kpkt.retail@localhost", true, false),
            ("ali@example.c0m", true, false),
            ("ali@example.m", true, false),
            ("siti@contoh.ไทย", true, true),
            ("ümran@pemaju.my", true, true),
            ("ali@bücher.de", true, true),
            ("ali@123.45", true, false),
            ("", false, false),
            ("a", false, false),
            ("ali@", false, false),
            ("@example.com", false, false),
            ("ali@@example.com", false, false),
            ("ali@x@example.com", false, false),
            ("ali@.com", false, false),
            ("ali@example..com", false, false),
            ("ali@example.com.", false, false),
            ("ali.@example.com", false, false),
            (".ali@example.com", false, false),
            ("a..b@example.com", false, false),
            ("ali@-x.com", false, false),
            ("ali@x-.com", false, false),
            ("ali@exa mple.com", false, false),
            ("ali abu@example.com", false, false),
            ("ali@example.com\n", false, false),
            ("ali\u{0}@example.com", false, false),
            ("<ali@example.com>", false, false),
            ("Ali <ali@example.com>", false, false),
            ("\"ali\"@example.com", false, false),
            ("ali@example.com;bob@example.com", false, false),
            ("ali@exa_mple.com", false, false),
            ("ali(comment)@example.com", false, false),
            (&long_local, false, false),
            (&long_label, false, false),
            (&long_address, false, false),
        ];
        for (addr, valid, public) in cases {
            assert_eq!(is_valid(addr), *valid, "is_valid({addr:?})");
            assert_eq!(
                is_valid(addr) && has_public_domain(addr),
                *public,
                "has_public_domain({addr:?})"
            );
        }
    }

    #[test]
    fn domains() {
        for (domain, ok) in [
            ("seriindah.my", true),
            ("localhost", true),
            ("xn--bcher-kva.de", true),
            ("", false),
            ("a..b", false),
            ("-a.my", false),
            ("a b.my", false),
            ("@seriindah.my", false),
        ] {
            assert_eq!(is_domain(domain), ok, "{domain:?}");
        }
    }

    #[test]
    fn bare_addresses() {
        for (raw, want) in [
            ("Submit <Submit@SeriIndah.my>", "submit@seriindah.my"),
            (" <a@b.my> ", "a@b.my"),
            (" A@B.MY ", "a@b.my"),
            ("\"A, B\" < a@b.my >", "a@b.my"),
        ] {
            assert_eq!(bare(raw), want, "{raw:?}");
        }
    }
}
