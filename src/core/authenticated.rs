//! Whether a message's sender is vouched for by the operator's own mail
//! server (SPEC §5, `require_authenticated_sender`): an
//! `Authentication-Results` header (RFC 8601) whose authserv-id is
//! `authserv_id` and that shows `dkim=pass` for the sender's domain
//! (`header.d`) or `spf=pass` for it (`smtp.mailfrom`). Headers with any
//! other authserv-id were added by someone else and are ignored.

/// Whether one of `headers` (values of `Authentication-Results`) from
/// `authserv_id` vouches for `from` (an address).
pub fn vouches(headers: &[String], authserv_id: &str, from: &str) -> bool {
    let Some((_, domain)) = from.rsplit_once('@') else {
        return false;
    };
    headers
        .iter()
        .any(|h| header_vouches(h, authserv_id, domain))
}

fn header_vouches(header: &str, authserv_id: &str, domain: &str) -> bool {
    let header = without_comments(header);
    let mut parts = header.split(';');
    // "mx.example.my" or "mx.example.my 1" (a version after the id).
    let id = parts
        .next()
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or("");
    if !id.eq_ignore_ascii_case(authserv_id) {
        return false;
    }
    parts.any(|result| result_vouches(result, domain))
}

/// One `method=result prop=value ...` clause.
fn result_vouches(clause: &str, domain: &str) -> bool {
    let mut words = clause.split_whitespace();
    let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
        return false;
    };
    if !result.eq_ignore_ascii_case("pass") {
        return false;
    }
    let props: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
    let prop = |name: &str| {
        props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim_matches('"'))
    };
    let same = |d: &str| d.trim_end_matches('.').eq_ignore_ascii_case(domain);
    match method.to_ascii_lowercase().as_str() {
        "dkim" => prop("header.d").is_some_and(same),
        "spf" => prop("smtp.mailfrom")
            .map(|m| m.rsplit_once('@').map_or(m, |(_, d)| d))
            .is_some_and(same),
        _ => false,
    }
}

/// RFC 8601 allows comments in parentheses anywhere; they say nothing.
fn without_comments(s: &str) -> String {
    let mut depth = 0u32;
    s.chars()
        .filter(|c| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "mx.ra.example.my";

    fn ok(headers: &[&str], from: &str) -> bool {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        vouches(&headers, ID, from)
    }

    #[test]
    fn a_pass_from_our_server_for_the_senders_domain_vouches() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "mx.ra.example.my; dkim=pass header.d=ra.example.my header.s=sel",
                "aina@ra.example.my",
                true,
            ),
            (
                "mx.ra.example.my 1; spf=pass smtp.mailfrom=aina@ra.example.my",
                "aina@ra.example.my",
                true,
            ),
            (
                "MX.RA.EXAMPLE.MY; dkim=fail header.d=ra.example.my; spf=pass (sender SPF authorized) smtp.mailfrom=ra.example.my",
                "aina@ra.example.my",
                true,
            ),
            // Another server's verdict counts for nothing.
            (
                "mx.attacker.example; dkim=pass header.d=ra.example.my",
                "aina@ra.example.my",
                false,
            ),
            // A pass for another domain does not vouch for this sender.
            (
                "mx.ra.example.my; dkim=pass header.d=attacker.example",
                "aina@ra.example.my",
                false,
            ),
            (
                "mx.ra.example.my; spf=softfail smtp.mailfrom=aina@ra.example.my",
                "aina@ra.example.my",
                false,
            ),
            ("mx.ra.example.my; none", "aina@ra.example.my", false),
            // A comment cannot smuggle in a verdict.
            (
                "mx.ra.example.my; dkim=fail (dkim=pass header.d=ra.example.my) header.d=ra.example.my",
                "aina@ra.example.my",
                false,
            ),
            ("", "aina@ra.example.my", false),
        ];
        for (header, from, want) in cases {
            assert_eq!(ok(&[header], from), *want, "{header}");
        }
    }

    #[test]
    fn any_one_of_several_headers_may_vouch() {
        assert!(ok(
            &[
                "mx.attacker.example; dkim=pass header.d=ra.example.my",
                "mx.ra.example.my; dkim=pass header.d=ra.example.my",
            ],
            "aina@ra.example.my"
        ));
        assert!(!ok(&[], "aina@ra.example.my"));
        assert!(!ok(
            &["mx.ra.example.my; dkim=pass header.d=ra.example.my"],
            "no-at-sign"
        ));
    }
}
