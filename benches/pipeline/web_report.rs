//! The `web` phase's own section of `docs/benchmarks.md` (between [`BEGIN`] and [`END`]):
//! `--only web` rewrites that section alone, and the other phases' report keeps it.

use std::time::Duration;

use super::Report;
use super::web::{SAMPLE, SIGNEES, STREAM_SECS, WARM_UP};

pub const BEGIN: &str = "<!-- web phase: begin -->";
pub const END: &str = "<!-- web phase: end -->";

/// `existing` with its web section replaced by `section` (added at the end when it had none).
pub fn splice(existing: &str, section: &str) -> String {
    splice_marked(existing, BEGIN, END, section)
}

/// The web section of `existing`, markers included, if it has one.
pub fn section_of(existing: &str) -> Option<&str> {
    section_marked(existing, BEGIN, END)
}

/// `existing` with the block between `begin` and `end` replaced by `section` (added at the end
/// when it had none).
pub fn splice_marked(existing: &str, begin: &str, end: &str, section: &str) -> String {
    let block = format!("{begin}\n{section}{end}\n");
    match (existing.find(begin), existing.find(end)) {
        (Some(b), Some(e)) if b < e => {
            format!(
                "{}{block}{}",
                &existing[..b],
                &existing[e + end.len()..].trim_start_matches('\n')
            )
        }
        _ => format!("{}\n{block}", existing.trim_end()),
    }
}

/// The block between `begin` and `end` of `existing`, markers included, if it has one.
pub fn section_marked<'a>(existing: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let (b, e) = (existing.find(begin)?, existing.find(end)?);
    (b < e).then(|| &existing[b..e + end.len()])
}

/// The section's text: the run, the table, the notes and how it was measured.
pub fn section(report: &Report, machine: &[(String, String)], took: Duration) -> String {
    let mut out = String::from("\n## Web: signees setting their PIN at once\n\n");
    out.push_str(&format!(
        "Run: `scripts/bench --only web` (took {:.0} s) on {}, {}.\n\n",
        took.as_secs_f64(),
        machine
            .iter()
            .find(|(k, _)| k == "date")
            .map_or("", |(_, v)| v.as_str()),
        machine
            .iter()
            .find(|(k, _)| k == "sijil")
            .map_or("", |(_, v)| v.as_str()),
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
         configuration). Twice {SIGNEES} packs (200 KB each) are APPENDed; every case is brought to \
         `pin_pending` by the real flow, each STAFF-VERIFY answered `VERIFIED` and each \
         STAFF-GENERATE `APPROVED` by threaded replies APPENDed to the RA inbox, and the links \
         are read from the EMEL 2s Dovecot delivered. The first {SIGNEES} signees set their PIN \
         at once with the mailbox idle (GET, then POST, as below). Then packs of 200 KB–2 MB (generated before \
         the clock starts) are APPENDed to the RA inbox at a steady rate for {STREAM_SECS} s; \
         {} s into the stream each of the other {SIGNEES} signees GETs their page (for its form token), \
         then {SIGNEES} tasks, released by one barrier, each open a connection and POST a good PIN. A POST's \
         time runs from its sending to the last byte of the confirmation page, which comes only \
         once the PIN set is durable. The mailbox's rate is the daemon's own count of filed \
         messages (`/metrics`, every {} ms) over the burst, and over as long (at least 1 s) \
         before and after it. Peak RSS is `VmHWM` once the whole stream is filed.\n\n",
        WARM_UP.as_secs(),
        SAMPLE.as_millis()
    ));
    out
}
