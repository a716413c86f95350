//! What COMPLETED carries (SPEC §7a): the fully signed eSPA PDF, and the
//! completion certificate — every signer, role, route, time, client
//! address and certificate serial, the document's SHA-256 before the first
//! signature and after the last, and the audit trail of the eSPA and its
//! cases. Attached on the apply path, where the store is at hand.

use std::fmt::Write;

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::core::case::Event;
use crate::core::espa::{Espa, Route, thread_ref};
use crate::edge::render::Attachment;
use crate::edge::store::{Store, StoreError};

/// The attachments of every COMPLETED about `espa`: the signed PDF and
/// the completion certificate. `pending` are the events the same commit
/// adds (not in the store yet).
pub fn attachments(
    espa: &Espa,
    pending: &[(String, Event)],
    store: &Store,
    cfg: &Config,
) -> Result<Vec<Attachment>, StoreError> {
    let mut out = Vec::new();
    if let Some(signed) = &espa.signed_pdf
        && let Some(bytes) = store.signed_pdf(&signed.sha256)?
    {
        out.push(Attachment {
            name: format!("{}-signed.pdf", espa.reference),
            content_type: "application/pdf".into(),
            bytes,
        });
    }
    let text = certificate(espa, pending, store, cfg)?;
    out.push(Attachment {
        name: format!("{}-completion-certificate.txt", espa.reference),
        content_type: "text/plain; charset=utf-8".into(),
        bytes: text.into_bytes(),
    });
    Ok(out)
}

/// The completion certificate, plain text.
pub fn certificate(
    espa: &Espa,
    pending: &[(String, Event)],
    store: &Store,
    cfg: &Config,
) -> Result<String, StoreError> {
    let time = |t| cfg.general.local_time_seconds(t);
    let mut s = String::new();
    let _ = writeln!(s, "SIJIL PENYEMPURNAAN / COMPLETION CERTIFICATE");
    let _ = writeln!(s, "eSPA {} — {}", espa.reference, espa.project);
    let _ = writeln!(
        s,
        "Developer: {} <{}>",
        espa.company, espa.developer_address
    );
    if let Some(at) = espa.completed_at {
        let _ = writeln!(s, "Completed: {}", time(at));
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Document: {} ({} bytes)",
        espa.document.name, espa.document.size
    );
    let _ = writeln!(
        s,
        "SHA-256 before the first signature: {}",
        espa.document.sha256
    );
    let _ = writeln!(
        s,
        "SHA-256 after the last signature:   {}",
        espa.current_sha256()
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "Signatures, in order:");
    for signee in &espa.signees {
        let _ = writeln!(
            s,
            "{}. {} — {} ({}) <{}>",
            signee.order,
            signee.name,
            signee.role.as_str(),
            signee.role.as_en(),
            signee.email
        );
        let Some(sig) = &signee.signature else {
            let _ = writeln!(s, "   not signed");
            continue;
        };
        let whose = match sig.route {
            Route::Manual => {
                "the signee's own certificate, issued by this RA (PIN and emailed code)"
            }
            Route::Idsaya => {
                "iDsaya route: the signee's certificate is external; their emailed-code consent \
                 is sealed into the PDF with the RA's attestation certificate, not theirs"
            }
        };
        let _ = writeln!(s, "   route: {} — {whose}", sig.route.as_str());
        let _ = writeln!(s, "   signed at: {}", time(sig.at));
        let _ = writeln!(s, "   client address: {}", sig.client_ip);
        let _ = writeln!(
            s,
            "   certificate serial: {}",
            sig.certificate_serial.as_deref().unwrap_or("none recorded")
        );
        let _ = writeln!(s, "   document signed (SHA-256): {}", sig.document_sha256);
        if let Some(after) = &sig.signed_sha256 {
            let _ = writeln!(s, "   with this signature (SHA-256): {after}");
        }
    }
    let mut trails = vec![thread_ref(&espa.reference)];
    trails.extend(espa.signees.iter().filter_map(|x| x.case_ref.clone()));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Audit trail (each line: its place in the hash chain, time, who, what, and the first 16 \
         hex of the record's SHA-256; `sijil audit verify REF` checks the chain):"
    );
    for reference in trails {
        let trail = store.trail(&reference)?;
        let chained = trail.as_ref().map_or(&[][..], |t| t.events.as_slice());
        let mut events: Vec<Event> = chained.iter().map(|c| c.event.clone()).collect();
        let later: Vec<Event> = pending
            .iter()
            .filter(|(r, _)| *r == reference)
            .map(|(_, e)| e.clone())
            .collect();
        events.extend(later.iter().cloned());
        let lines = crate::core::history::described(&events);
        let _ = writeln!(s);
        let verdict = match trail.as_ref().and_then(|t| t.report.problem.as_ref()) {
            None => "chain intact".to_string(),
            Some(problem) => format!("chain BROKEN: {}", problem.why),
        };
        let _ = writeln!(s, "[{reference}] {} events; {verdict}", events.len());
        for (i, (event, line)) in events.iter().zip(lines).enumerate() {
            let place = chained
                .get(i)
                .map_or_else(|| "  + ".to_string(), |c| format!("{:>4}", c.seq));
            let hash = chained.get(i).map_or("(written with this email)", |c| {
                c.hash.get(..16).unwrap_or(&c.hash)
            });
            let _ = writeln!(
                s,
                "{place}  {}  {}  {line}  {hash}",
                time(event.at),
                event.actor
            );
        }
    }
    let digest = hex::encode(Sha256::digest(s.as_bytes()));
    let _ = writeln!(s);
    let _ = writeln!(s, "SHA-256 of the text above: {digest}");
    Ok(s)
}
