//! The core's [`View`] of the store: every read error is passed on, never
//! taken for "absent".

use chrono::{DateTime, Utc};

use super::{Store, StoreError, be_u64, decode, id_key, order_key, sent_key, sequence_key};
use crate::core::case::{Case, Event};
use crate::core::reply_rate;
use crate::core::view::{SentEmail, View, ViewError, ViewResult, bare_message_id};

impl From<StoreError> for ViewError {
    fn from(e: StoreError) -> ViewError {
        ViewError(e.to_string())
    }
}

impl View for Store {
    fn case(&self, reference: &str) -> ViewResult<Option<Case>> {
        Ok(Store::case(self, reference)?)
    }

    fn espa(&self, reference: &str) -> ViewResult<Option<crate::core::espa::Espa>> {
        Ok(Store::espa(self, reference)?)
    }

    fn open_for_order(&self, espa: &str, order: u32) -> ViewResult<Option<Case>> {
        Ok(self
            .indexed(&order_key(espa, order))?
            .filter(|c| c.espa_order() == Some((espa.to_string(), order))))
    }

    fn open_for_id(&self, espa: &str, id_number: &str) -> ViewResult<Option<Case>> {
        Ok(self.indexed(&id_key(espa, id_number))?.filter(|c| {
            c.application
                .as_ref()
                .is_some_and(|a| a.espa_ref == espa && a.id_number == id_number)
        }))
    }

    fn next_sequence(&self, year: i32) -> ViewResult<u64> {
        let last = match self
            .meta
            .get(sequence_key(year))
            .map_err(StoreError::from)?
        {
            None => 0,
            Some(v) => be_u64(&v).ok_or_else(|| StoreError::Corrupt {
                key: sequence_key(year),
                error: format!("{} bytes, not a sequence number", v.len()),
            })?,
        };
        Ok(last + 1)
    }

    fn sent_email(&self, message_id: &str) -> ViewResult<Option<SentEmail>> {
        let key = sent_key(bare_message_id(message_id));
        match self.index.get(&key).map_err(StoreError::from)? {
            None => Ok(None),
            Some(v) => Ok(Some(decode(&key, &v)?)),
        }
    }

    fn replies_this_hour(
        &self,
        address: &str,
        reference: &str,
        now: DateTime<Utc>,
    ) -> ViewResult<u32> {
        let key = reply_rate::counter_key(address, reference, now);
        Ok(self
            .meta
            .get(key)
            .map_err(StoreError::from)?
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map_or(0, u32::from_be_bytes))
    }

    fn for_each_case(&self, f: &mut dyn FnMut(&Case)) -> ViewResult<()> {
        for case in self.cases() {
            f(&case?);
        }
        Ok(())
    }

    fn history(&self, reference: &str) -> ViewResult<Vec<Event>> {
        Ok(Store::history(self, reference)?)
    }

    fn espa_for_sign_link(
        &self,
        token_sha256: &str,
    ) -> ViewResult<Option<(crate::core::espa::Espa, u32)>> {
        let Some(value) = self
            .sign_links
            .get(token_sha256)
            .map_err(StoreError::from)?
        else {
            return Ok(None);
        };
        let Some((reference, order)) = super::sign_link_value(&value) else {
            return Err(crate::core::ViewError(format!(
                "signing link index entry {token_sha256:.8}… is unreadable"
            )));
        };
        Ok(Store::espa(self, &reference)?.map(|e| (e, order)))
    }

    fn case_for_pin_link(&self, token_sha256: &str) -> ViewResult<Option<Case>> {
        let Some(reference) = self.pin_links.get(token_sha256).map_err(StoreError::from)? else {
            return Ok(None);
        };
        Ok(Store::case(self, &String::from_utf8_lossy(&reference))?)
    }
}

impl Store {
    /// The open case an index key points to. Index entries are never
    /// removed; a stale one (the case closed or was corrected) is filtered
    /// out by the caller's check against the case itself.
    fn indexed(&self, key: &str) -> Result<Option<Case>, StoreError> {
        let Some(reference) = self.index.get(key)? else {
            return Ok(None);
        };
        let case = Store::case(self, &String::from_utf8_lossy(&reference))?;
        Ok(case.filter(|c| !c.state.is_closed()))
    }
}
