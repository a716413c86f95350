//! The `sign` phase's own section of `docs/benchmarks.md` (between [`BEGIN`] and [`END`]):
//! `--only sign` rewrites that section alone, and the other phases' report keeps it.

use std::time::Duration;

use super::Report;
use super::sign::SIGNEES;
use super::web_report::{section_marked, splice_marked};

pub const BEGIN: &str = "<!-- sign phase: begin -->";
pub const END: &str = "<!-- sign phase: end -->";

/// `existing` with its sign section replaced by `section` (added at the end when it had none).
pub fn splice(existing: &str, section: &str) -> String {
    splice_marked(existing, BEGIN, END, section)
}

/// The sign section of `existing`, markers included, if it has one.
pub fn section_of(existing: &str) -> Option<&str> {
    section_marked(existing, BEGIN, END)
}

/// The section's text: the run, the table, the notes and how it was measured.
pub fn section(report: &Report, machine: &[(String, String)], took: Duration) -> String {
    let mut out = String::from("\n## Signing: signees signing their eSPA at once\n\n");
    let field = |name: &str| {
        machine
            .iter()
            .find(|(k, _)| k == name)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    out.push_str(&format!(
        "Run: `scripts/bench --only sign` (took {:.0} s) on {}, {}.\n\n",
        took.as_secs_f64(),
        field("date"),
        field("sijil"),
    ));
    out.push_str(&report.table());
    if !report.notes.is_empty() {
        out.push_str("\nNotes:\n\n");
        for n in &report.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out.push_str(&format!(
        "\n**Method.** A fresh Dovecot + Postfix and the release daemon (the harness's \
         configuration). {SIGNEES} eSPA registrations from the registered developer, each with \
         its own reference, its own PDF and one `idsaya` signee with an address of their own, \
         are APPENDed to the RA inbox; each acknowledgement is answered `EKYC-OK 1` by a threaded \
         reply from the developer, APPENDed too, and the signing links are read from the EMEL 4s \
         Dovecot delivered. Each signee GETs their page (for its form token); then {SIGNEES} \
         tasks, released by one barrier, each open a connection and POST `/sign/{{token}}/code`. \
         Once every CODE email is delivered (each mapped to its signee by its recipient, the \
         code read from its text), {SIGNEES} tasks released by a second barrier POST the \
         signature with their code. A POST's time runs from its sending to the last byte of its \
         page; the signed page comes only once the signature and its emails are durable. Peak \
         RSS is `VmHWM` right after the signatures. The counts are taken once every expected \
         email is delivered and a few seconds more have passed: each eSPA has one signee, so \
         its signature completes it, and SIGNED and COMPLETED go to the signee and COMPLETED to \
         the developer. Not measured here: a `manual` signee's signature also checks the \
         certificate PIN, one Argon2id verification at the cost of a PIN set (the web phase's \
         CPU per PIN), on the same bounded slots.\n\n"
    ));
    out
}
