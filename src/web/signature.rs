//! The signature a signing post adds to the eSPA PDF (SPEC §7a), made
//! once the code is right: for a `manual` signee, their key unsealed with
//! the PIN they typed (a PIN that does not open it is a wrong PIN) and
//! their certificate; for an `idsaya` signee, the RA's attestation key,
//! the reason naming them and the external route. The key exists
//! unsealed only inside [`sign_for`]'s blocking task and is zeroed when
//! it ends. The PDF is kept by its SHA-256 before the commit that records
//! the signature ([`Store::put_signed_pdf`]).

use base64::Engine;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::AppState;
use super::hashing::HashError;
use crate::core::case::Case;
use crate::core::espa::signing::{PinCheck, SignedPdf, code_matches};
use crate::core::espa::{Espa, Route, Signee};
use crate::edge::store::Store;
use crate::pki::pades::{self, KeySigner, Placement};

/// The PDF as it stands (every signature so far), from the store.
pub(super) async fn current_pdf(s: &AppState, espa: &Espa) -> Result<Vec<u8>, String> {
    let store = s.applier.store();
    if let Some(signed) = &espa.signed_pdf {
        return store
            .signed_pdf(&signed.sha256)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the signed PDF {} is not kept", signed.sha256));
    }
    let at = store
        .document(&espa.document.sha256)
        .map_err(|e| e.to_string())?
        .ok_or("the eSPA's PDF is not stored")?;
    let root = s.applier.cfg().store.documents.clone();
    tokio::task::spawn_blocking(move || crate::edge::documents::read_at(&root, &at))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// The PIN's check and, when the code and PIN are right, the signed PDF
/// (kept in the store). The PIN is checked only for a `manual` signee
/// whose code is right: otherwise the core refuses the code first.
pub(super) async fn pin_and_pdf(
    s: &AppState,
    espa: &Espa,
    order: u32,
    code_mac: &str,
    pin: String,
) -> Result<(PinCheck, Option<SignedPdf>), HashError> {
    let pin = Zeroizing::new(pin);
    let Some(signee) = espa.signee(order) else {
        return Ok((PinCheck::NotNeeded, None));
    };
    let code_right = signee
        .code
        .as_ref()
        .is_some_and(|c| !c.void && code_matches(&c.mac, code_mac));
    if !code_right {
        return Ok((PinCheck::NotNeeded, None));
    }
    let store = s.applier.store();
    let Some(authority) = s.applier.authority() else {
        tracing::error!(espa = %espa.reference, "signing page: no CA loaded");
        return Ok((PinCheck::NotNeeded, None));
    };
    let ca = authority.certificate_der().to_vec();
    let (check, key, chain) = match signee.route {
        Route::Idsaya => {
            let attestation = authority.attestation();
            let key = Zeroizing::new(attestation.key.to_bytes().to_vec());
            (
                PinCheck::NotNeeded,
                Some(Key::Raw(key)),
                vec![attestation.cert_der.clone(), ca],
            )
        }
        Route::Manual => {
            let case = signee
                .case_ref
                .as_deref()
                .and_then(|r| store.case(r).ok().flatten());
            let Some(case) = case else {
                return Ok((PinCheck::Wrong, None));
            };
            if pin.is_empty() {
                return Ok((PinCheck::Wrong, None));
            }
            let Some(sealed) = case.keys.sealed.clone() else {
                return old_case(s, &case, pin).await;
            };
            let opened = s
                .pin
                .hasher()
                .unseal(pin.to_string(), sealed, case.reference.clone())
                .await?;
            let Some(key) = opened else {
                return Ok((PinCheck::Wrong, None));
            };
            let Some(cert) = case.keys.current() else {
                return Ok((PinCheck::Right, None));
            };
            let Ok(der) = base64::engine::general_purpose::STANDARD.decode(&cert.der) else {
                return Ok((PinCheck::Right, None));
            };
            (PinCheck::Right, Some(Key::Pkcs8(key)), vec![der, ca])
        }
    };
    let Some(key) = key else {
        return Ok((check, None));
    };
    let base = match current_pdf(s, espa).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(espa = %espa.reference, error = %e, "signing page: the PDF is unreadable");
            return Ok((check, None));
        }
    };
    let made = sign_for(
        espa,
        signee,
        base,
        key,
        chain,
        s.applier.cfg().general.timezone,
    )
    .await;
    match made {
        Ok((pdf, bytes)) => {
            if let Err(e) = store.put_signed_pdf(&pdf.sha256, &bytes) {
                tracing::error!(espa = %espa.reference, error = %e, "signing page: the signed PDF is not kept");
                return Ok((check, None));
            }
            Ok((check, Some(pdf)))
        }
        Err(e) => {
            tracing::error!(espa = %espa.reference, order, error = %e, "signing page: not signed");
            Ok((check, None))
        }
    }
}

/// A case from before keys were made: the PIN is checked against its
/// hash, but there is no key to sign with (RESET-PIN makes one).
async fn old_case(
    s: &AppState,
    case: &Case,
    pin: Zeroizing<String>,
) -> Result<(PinCheck, Option<SignedPdf>), HashError> {
    let Some(hash) = case.pin.hash.clone() else {
        return Ok((PinCheck::Wrong, None));
    };
    let right = s.pin.hasher().verify(pin.to_string(), hash).await?;
    Ok((
        if right {
            PinCheck::Right
        } else {
            PinCheck::Wrong
        },
        None,
    ))
}

enum Key {
    /// An unsealed PKCS#8 key.
    Pkcs8(Zeroizing<Vec<u8>>),
    /// A P-256 scalar.
    Raw(Zeroizing<Vec<u8>>),
}

/// Adds the signature on the blocking pool: the key is made a signer
/// there and dropped (zeroed) there.
async fn sign_for(
    espa: &Espa,
    signee: &Signee,
    base: Vec<u8>,
    key: Key,
    chain: Vec<Vec<u8>>,
    tz: chrono_tz::Tz,
) -> Result<(SignedPdf, Vec<u8>), String> {
    let now = chrono::Utc::now();
    let local = now.with_timezone(&tz).format("%Y-%m-%d %H:%M %:z");
    // The claimed time, inside the signed signature dictionary (`sijil
    // verify` reads it back): PAdES keeps it out of the CMS.
    let at = now.format("%Y-%m-%dT%H:%M:%SZ");
    let (field, reason) = match signee.route {
        Route::Manual => (
            format!("Signee{}", signee.order),
            format!(
                "eSPA {}: signed at {at} by {} as {} (signee {}), own certificate, PIN and emailed code",
                espa.reference,
                signee.name,
                signee.role.as_en(),
                signee.order
            ),
        ),
        Route::Idsaya => (
            format!("Attestation{}", signee.order),
            format!(
                "eSPA {}: signed at {at}: RA attestation - {} ({}, signee {}) consented by emailed \
                 code at {local}; their certificate is iDsaya's (external route), not this one",
                espa.reference,
                signee.name,
                signee.role.as_en(),
                signee.order
            ),
        ),
    };
    let contact = signee.email.clone();
    let base_sha256 = hex::encode(Sha256::digest(&base));
    let serial = serial_of(chain.first().map(Vec::as_slice).unwrap_or_default());
    tokio::task::spawn_blocking(move || {
        let signer = match &key {
            Key::Pkcs8(der) => KeySigner::from_pkcs8(der, chain)?,
            Key::Raw(scalar) => {
                let key = p256::ecdsa::SigningKey::from_slice(scalar).map_err(|e| e.to_string())?;
                KeySigner::new(key, chain)?
            }
        };
        drop(key);
        let placement = Placement {
            field: &field,
            reason: &reason,
            location: "Malaysia",
            contact: &contact,
            at: now,
        };
        let bytes = pades::sign(&base, &signer, &placement)?;
        let pdf = SignedPdf {
            sha256: hex::encode(Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            base_sha256,
            certificate_serial: serial,
        };
        Ok((pdf, bytes))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A certificate's serial, upper-case hex.
fn serial_of(der: &[u8]) -> String {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| hex::encode_upper(c.raw_serial()))
        .unwrap_or_default()
}

/// Forgets the PDF of a signature that was not recorded.
pub(super) fn forget(store: &Store, pdf: Option<&SignedPdf>) {
    if let Some(pdf) = pdf
        && let Err(e) = store.forget_signed_pdf(&pdf.sha256)
    {
        tracing::warn!(error = %e, "signing page: an unrecorded signed PDF stays");
    }
}
