//! What the apply path adds to a decision before it is rendered and
//! committed: each new link's token, each verification code's digits, each
//! certificate the CA issues on `QC-PASS`, and what COMPLETED carries. Only
//! hashes reach the store; the secrets exist only in the rendered emails.

use chrono::{DateTime, Utc};

use super::{Applier, ApplyError};
use crate::core::Effects;
use crate::core::case::EventKind;
use crate::core::certificate::IssuedCertificate;
use crate::core::email::Template;
use crate::edge::render::Attachment;
use crate::edge::store::Store;

impl Applier {
    /// What each COMPLETED carries: the signed PDF and the completion
    /// certificate, made once per eSPA however many receive it.
    pub(super) fn attachments(
        &self,
        effects: &Effects,
    ) -> Result<Vec<(usize, Vec<Attachment>)>, ApplyError> {
        let mut made: Vec<(String, Vec<Attachment>)> = Vec::new();
        let mut out = Vec::new();
        for (i, email) in effects.emails.iter().enumerate() {
            if email.template != Template::Completed {
                continue;
            }
            let Some(espa) = effects.espas.iter().rev().map(|w| &w.espa).find(|e| {
                email.case_ref.as_deref() == Some(&crate::core::espa::thread_ref(&e.reference))
            }) else {
                continue;
            };
            let files = match made.iter().find(|(r, _)| *r == espa.reference) {
                Some((_, files)) => files.clone(),
                None => {
                    let files = crate::edge::completion::attachments(
                        espa,
                        &effects.events,
                        &self.store,
                        &self.cfg,
                    )?;
                    made.push((espa.reference.clone(), files.clone()));
                    files
                }
            };
            out.push((i, files));
        }
        Ok(out)
    }

    /// Issues each certificate `effects` asks for (`QC-PASS`): for the
    /// written case's sealed key, the subject from its verified
    /// application. The case keeps the certificate, its EMEL 3 shows the
    /// serial and fingerprint, the history records it.
    pub(super) fn issue_certificates(
        &self,
        effects: &mut Effects,
        now: DateTime<Utc>,
    ) -> Result<(), ApplyError> {
        for reference in effects.certificates.clone() {
            let authority = self
                .authority
                .as_deref()
                .ok_or_else(|| ApplyError::Mint("no CA is loaded to issue certificates".into()))?;
            let case = &mut effects
                .cases
                .iter_mut()
                .rev()
                .find(|w| w.case.reference == reference)
                .ok_or_else(|| ApplyError::Mint(format!("case {reference} is not written")))?
                .case;
            let (Some(sealed), Some(application)) = (&case.keys.sealed, &case.application) else {
                tracing::warn!(case = %reference, "QC-PASS: no sealed key to certify");
                let what = EventKind::CertificateNotIssued {
                    why: "no key pair was made when the PIN was set (RESET-PIN makes one)".into(),
                };
                effects.events.push((reference.clone(), event(what, now)));
                continue;
            };
            let spki = crate::pki::seal::public_key(sealed).map_err(ApplyError::Mint)?;
            let id_digest = self.store.id_mac(&application.id_number);
            let subject = crate::pki::certificate::Subject {
                full_name: &application.full_name,
                id_kind: application.id_type.as_str(),
                nationality: &application.nationality,
                id_digest: &id_digest,
            };
            let issued = authority
                .issue(&subject, &spki, now)
                .map_err(|e| ApplyError::Mint(e.to_string()))?;
            let certificate = IssuedCertificate {
                serial: issued.serial.clone(),
                fingerprint: issued.fingerprint.clone(),
                der: base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    &issued.der,
                ),
                not_before: issued.not_before,
                not_after: issued.not_after,
                revoked_at: None,
            };
            case.keys.certificate = Some(certificate);
            tracing::info!(case = %reference, serial = %issued.serial, "certificate issued");
            let what = EventKind::CertificateIssued {
                serial: issued.serial.clone(),
                fingerprint: issued.fingerprint.clone(),
                not_after: issued.not_after,
            };
            effects.events.push((reference.clone(), event(what, now)));
            if let Some(context) = effects
                .emails
                .iter_mut()
                .rev()
                .find(|e| {
                    e.template == Template::Emel3 && e.case_ref.as_deref() == Some(&reference)
                })
                .and_then(|e| e.context.as_object_mut())
            {
                context.insert(
                    "certificate".into(),
                    serde_json::json!({
                        "serial": issued.serial,
                        "fingerprint": issued.fingerprint,
                        "not_after": self.cfg.general.local_time(issued.not_after),
                        "issuer": authority.subject(),
                    }),
                );
            }
        }
        Ok(())
    }
}

fn event(what: EventKind, now: DateTime<Utc>) -> crate::core::case::Event {
    crate::core::case::Event {
        at: now,
        actor: crate::core::case::Actor::System,
        what,
    }
}

/// Gives each new set-PIN link of `effects` its token: 32 bytes from the
/// OS, base64url without padding in the link. The case written keeps only
/// the token's SHA-256; the token itself goes into its EMEL 2's `pin_url`,
/// and so only into that email, rendered, in the outbox until it is sent.
pub(super) fn mint_pin_links(effects: &Effects, base_url: &str) -> Result<Effects, ApplyError> {
    let mut out = effects.clone();
    for reference in &effects.pin_links {
        let token = token()?;
        let link = out
            .cases
            .iter_mut()
            .rev()
            .find(|w| w.case.reference == *reference)
            .and_then(|w| w.case.pin.link.as_mut())
            .ok_or_else(|| {
                ApplyError::Mint(format!("case {reference} is not written with a link"))
            })?;
        link.token_sha256 = crate::core::pin::token_sha256(&token);
        let context = out
            .emails
            .iter_mut()
            .rev()
            .find(|e| e.template == Template::Emel2 && e.case_ref.as_deref() == Some(reference))
            .and_then(|e| e.context.as_object_mut())
            .ok_or_else(|| {
                ApplyError::Mint(format!("case {reference} has no EMEL 2 to carry its link"))
            })?;
        context.insert(
            "pin_url".into(),
            serde_json::Value::String(format!("{base_url}/pin/{token}")),
        );
    }
    Ok(out)
}

/// 32 bytes from the OS, base64url without padding: a link's token.
fn token() -> Result<String, ApplyError> {
    use base64::Engine;
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| ApplyError::Mint(format!("no randomness from the OS: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Six decimal digits, each of the million equally likely: a 32-bit draw
/// from the OS, drawn again in the rare case it falls past the last whole
/// million (so no code is likelier than another).
fn six_digits() -> Result<String, ApplyError> {
    use rand::TryRngCore;
    const LIMIT: u32 = u32::MAX - u32::MAX % 1_000_000;
    loop {
        let n = rand::rngs::OsRng
            .try_next_u32()
            .map_err(|e| ApplyError::Mint(format!("no randomness from the OS: {e}")))?;
        if n < LIMIT {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// The signee `order` of eSPA `reference` as `effects` writes it last.
fn written_signee<'a>(
    effects: &'a mut Effects,
    reference: &str,
    order: u32,
) -> Result<&'a mut crate::core::espa::Signee, ApplyError> {
    effects
        .espas
        .iter_mut()
        .rev()
        .find(|w| w.espa.reference == reference)
        .and_then(|w| w.espa.signee_mut(order))
        .ok_or_else(|| ApplyError::Mint(format!("eSPA {reference} signee {order} is not written")))
}

/// The context of the last email of `template` to `to` about eSPA `reference`.
fn email_context<'a>(
    effects: &'a mut Effects,
    template: Template,
    reference: &str,
    to: &str,
) -> Result<&'a mut serde_json::Map<String, serde_json::Value>, ApplyError> {
    let tag = crate::core::espa::thread_ref(reference);
    effects
        .emails
        .iter_mut()
        .rev()
        .find(|e| {
            e.template == template
                && e.case_ref.as_deref() == Some(tag.as_str())
                && e.to.iter().any(|r| r.email == to)
        })
        .and_then(|e| e.context.as_object_mut())
        .ok_or_else(|| {
            ApplyError::Mint(format!(
                "eSPA {reference} has no {} to {to}",
                template.name()
            ))
        })
}

/// Gives each new signing link its token, as [`mint_pin_links`] does: the
/// signee written keeps its SHA-256, their EMEL 4 gets the link.
pub(super) fn mint_sign_links(effects: &mut Effects, base_url: &str) -> Result<(), ApplyError> {
    for (reference, order) in effects.sign_links.clone() {
        let token = token()?;
        let signee = written_signee(effects, &reference, order)?;
        let email = signee.email.clone();
        let link = signee.sign_link.as_mut().ok_or_else(|| {
            ApplyError::Mint(format!("eSPA {reference} signee {order} has no link"))
        })?;
        link.token_sha256 = crate::core::pin::token_sha256(&token);
        email_context(effects, Template::Emel4, &reference, &email)?.insert(
            "sign_url".into(),
            serde_json::Value::String(format!("{base_url}/sign/{token}")),
        );
    }
    Ok(())
}

/// Draws each new verification code: six digits, uniform, from the OS.
/// The signee written keeps its keyed hash ([`Store::code_mac`]), their
/// CODE email the digits.
pub(super) fn mint_sign_codes(effects: &mut Effects, store: &Store) -> Result<(), ApplyError> {
    for (reference, order) in effects.sign_codes.clone() {
        let code = six_digits()?;
        let mac = store.code_mac(&reference, order, &code);
        let signee = written_signee(effects, &reference, order)?;
        let email = signee.email.clone();
        signee
            .code
            .as_mut()
            .ok_or_else(|| {
                ApplyError::Mint(format!("eSPA {reference} signee {order} has no code"))
            })?
            .mac = mac;
        email_context(effects, Template::SignCode, &reference, &email)?
            .insert("code".into(), serde_json::Value::String(code));
    }
    Ok(())
}
