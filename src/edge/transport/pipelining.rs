//! One email over an open SMTP connection in two round trips, when the
//! server offers PIPELINING (RFC 2920): MAIL, every RCPT and DATA go out in
//! one write and their replies are read in order; then the body and its
//! closing dot go out in one more. lettre's own `send` waits for each of
//! those replies in turn and writes the closing dot apart from the body:
//! four round trips and five writes per email, each one a wakeup for sijil
//! and for the server.
//!
//! The verdict is the first refusal in the group, in the order sent: a 550
//! to RCPT is what failed the email, not the 554 "no valid recipients" that
//! DATA draws after it. lettre's error types carry it, so the outbox's
//! transient/permanent rule (`transport::classify`) is the same either way.
//! Whatever goes wrong, the caller closes the connection (as after lettre's
//! own `send`), so a server that took DATA after refusing a recipient never
//! sees a body.

use std::fmt;

use lettre::address::Envelope;
use lettre::transport::smtp::Error;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;

/// Whether an EHLO reply lists the PIPELINING keyword. lettre's `ServerInfo`
/// keeps only the extensions lettre itself uses, so the pool reads the reply.
pub(super) fn offered(ehlo: &Response) -> bool {
    ehlo.message().any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case("PIPELINING"))
    })
}

/// Sends `body` (without its final CRLF) to the envelope's recipients,
/// pipelined when `pipelining` is set, through lettre's `send` otherwise.
/// Anything lettre would refuse before talking (a non-ASCII address or body
/// the server cannot take) goes through lettre's `send` too, so the refusal
/// is lettre's.
pub(super) async fn send(
    conn: &mut AsyncSmtpConnection,
    pipelining: bool,
    envelope: &Envelope,
    body: &[u8],
) -> Result<(), Error> {
    let server = conn.server_info();
    let mut options = Vec::new();
    let mut lettres_way = !pipelining;
    let mut addresses = envelope.from().into_iter().chain(envelope.to());
    if addresses.any(|a| !AsRef::<str>::as_ref(a).is_ascii()) {
        lettres_way |= !server.supports_feature(Extension::SmtpUtfEight);
        options.push(MailParameter::SmtpUtfEight);
    }
    if !body.is_ascii() {
        lettres_way |= !server.supports_feature(Extension::EightBitMime);
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    if lettres_way {
        return conn.send(envelope, body).await.map(drop);
    }

    let mut group = Mail::new(envelope.from().cloned(), options).to_string();
    for to in envelope.to() {
        group.push_str(&Rcpt::new(to.clone(), Vec::new()).to_string());
    }
    group.push_str(&Data.to_string());
    let replies = envelope.to().len() + 2;

    let mut refusal = None;
    for n in 0..replies {
        let reply = if n == 0 {
            conn.command(Raw(&group)).await
        } else {
            conn.read_response().await
        };
        match reply {
            Ok(_) => {}
            // A reply that says no was read whole: the next one is still
            // there to read, and only the first refusal counts.
            Err(e) if e.status().is_some() => {
                refusal.get_or_insert(e);
            }
            // No reply at all (network, timeout, garbage): nothing more can
            // be read from this connection.
            Err(e) => return Err(refusal.unwrap_or(e)),
        }
    }
    if let Some(e) = refusal {
        return Err(e);
    }
    match std::str::from_utf8(body) {
        Ok(text) => conn.command(Raw(&with_closing_dot(text))).await.map(drop),
        Err(_) => conn.message(body).await.map(drop),
    }
}

/// The DATA as it goes on the wire: a `.` that starts a line is doubled
/// (RFC 5321 §4.5.2), and CRLF "." CRLF ends it. Lines start where lettre's
/// codec says they do: at the very beginning and after CRLF.
fn with_closing_dot(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 8);
    if body.starts_with('.') {
        out.push('.');
    }
    let mut rest = body;
    while let Some(at) = rest.find("\r\n.") {
        out.push_str(&rest[..at + 2]);
        out.push('.');
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out.push_str("\r\n.\r\n");
    out
}

/// Bytes already in SMTP form, for lettre's `command`, which writes
/// whatever a `Display` prints.
struct Raw<'a>(&'a str);

impl fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::transport::smtp::response::{Category, Code, Detail, Severity};

    fn ehlo(lines: &[&str]) -> Response {
        Response::new(
            Code::new(
                Severity::PositiveCompletion,
                Category::MailSystem,
                Detail::Zero,
            ),
            lines.iter().map(|l| l.to_string()).collect(),
        )
    }

    #[test]
    fn pipelining_is_read_from_the_ehlo_reply() {
        assert!(offered(&ehlo(&[
            "mx.example.my",
            "SIZE 104857600",
            "PIPELINING",
            "8BITMIME"
        ])));
        assert!(offered(&ehlo(&["mx", "pipelining"])));
        assert!(!offered(&ehlo(&["mx.example.my", "SIZE 1000", "8BITMIME"])));
        // The server's name is not a keyword, nor is a word inside a line.
        assert!(!offered(&ehlo(&["mx", "X-NOT PIPELINING"])));
    }

    #[test]
    fn dots_that_start_a_line_are_doubled_and_the_data_is_closed() {
        assert_eq!(with_closing_dot("a\r\nb"), "a\r\nb\r\n.\r\n");
        assert_eq!(with_closing_dot(".a"), "..a\r\n.\r\n");
        assert_eq!(
            with_closing_dot("a\r\n.\r\n..b\r\nc.d\r\n."),
            "a\r\n..\r\n...b\r\nc.d\r\n..\r\n.\r\n"
        );
        // A bare LF does not start a line (as in lettre's codec): the server
        // only ends DATA at CRLF "." CRLF.
        assert_eq!(with_closing_dot("a\n.b"), "a\n.b\r\n.\r\n");
        assert_eq!(with_closing_dot("a\r\r\n.b"), "a\r\r\n..b\r\n.\r\n");
        assert_eq!(with_closing_dot(""), "\r\n.\r\n");
    }
}
