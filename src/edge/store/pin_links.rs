//! The checks a commit makes on set-PIN links inside its transaction, so
//! that what the web does to a case and what the mailbox does to it never
//! undo each other: a commit that uses a link finds it still current, and
//! a case decided before a link was issued or used on it is not written
//! over the newer record.

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionalTree, abort};

use super::StoreError;
use crate::core::case::Case;
use crate::core::pin::{self, LinkStatus, Pin};

type TxResult = Result<(), ConflictableTransactionError<StoreError>>;

/// The link whose token hashes to `token_sha256` is its case's current
/// link at `now` (unused, unexpired, the case `pin_pending`), as stored;
/// else [`StoreError::LinkSpent`] and the transaction writes nothing.
pub(super) fn check_current(
    links: &TransactionalTree,
    cases: &TransactionalTree,
    token_sha256: &str,
    now: DateTime<Utc>,
) -> TxResult {
    let Some(reference) = links.get(token_sha256.as_bytes())? else {
        return abort(StoreError::LinkSpent);
    };
    let Some(record) = cases.get(&reference)? else {
        return abort(StoreError::LinkSpent);
    };
    let case: Case = decode(&reference, &record)?;
    if pin::link_status(&case, token_sha256, now) != LinkStatus::Current {
        return abort(StoreError::LinkSpent);
    }
    Ok(())
}

/// What a case record must keep of the stored one's PIN part: see
/// [`pin::behind`]. A [`StoreError::Conflict`] has the input decided again.
pub(super) fn check_not_behind(
    cases: &TransactionalTree,
    reference: &str,
    record: &[u8],
) -> TxResult {
    let Some(stored) = cases.get(reference.as_bytes())? else {
        return Ok(());
    };
    let stored: PinOnly = decode(reference.as_bytes(), &stored)?;
    let written: PinOnly = decode(reference.as_bytes(), record)?;
    if pin::behind(&stored.pin, &written.pin) {
        return abort(StoreError::Conflict(format!(
            "case {reference}: its PIN link changed since it was read"
        )));
    }
    Ok(())
}

/// A case record read for its PIN part alone.
#[derive(serde::Deserialize)]
struct PinOnly {
    #[serde(default)]
    pin: Pin,
}

fn decode<T: serde::de::DeserializeOwned>(
    key: &[u8],
    bytes: &[u8],
) -> Result<T, ConflictableTransactionError<StoreError>> {
    serde_json::from_slice(bytes).map_err(|e| {
        ConflictableTransactionError::Abort(StoreError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            error: e.to_string(),
        })
    })
}
