//! The counters `/metrics` shows (`crate::web` renders them), kept by the
//! parts that change things as they change them: a scrape reads no store.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::core::case::CaseState;

/// Counters of the inbound side, by the folder a message was filed in.
#[derive(Debug, Default)]
pub struct InboundStats {
    pub processed: AtomicU64,
    pub rejected: AtomicU64,
    pub quarantined: AtomicU64,
    pub duplicates: AtomicU64,
}

/// Counters of the retention sweep (SPEC §8).
#[derive(Debug, Default)]
pub struct RetentionStats {
    pub documents_purged: AtomicU64,
}

/// Counters the web edge exposes on `/metrics`, kept as the outbox changes
/// (a scrape reads no store).
#[derive(Debug, Default)]
pub struct OutboxStats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    /// Emails waiting: counted from the store at start, then moved by the
    /// apply path as commits queue and finish emails.
    pub queued: AtomicU64,
}

/// Cases by state, a gauge: counted from the store once at start, then
/// moved by the apply path as commits change states (a scrape reads no
/// store).
#[derive(Debug, Default)]
pub struct CaseStats {
    /// Indexed by the position of the state in [`CaseState::ALL`].
    by_state: [AtomicU64; CaseState::ALL.len()],
}

impl CaseStats {
    /// The count of `states` (every case's, read at start).
    pub fn counted(states: impl IntoIterator<Item = CaseState>) -> CaseStats {
        let stats = CaseStats::default();
        for state in states {
            stats.slot(state).fetch_add(1, Ordering::Relaxed);
        }
        stats
    }

    /// A case moved `from` (`None`: it is new) `to`.
    pub fn moved(&self, from: Option<CaseState>, to: CaseState) {
        if from == Some(to) {
            return;
        }
        if let Some(from) = from {
            // Never below zero, whatever the order of updates.
            let _ = self
                .slot(from)
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some(n.saturating_sub(1))
                });
        }
        self.slot(to).fetch_add(1, Ordering::Relaxed);
    }

    /// Every state with its count, in the order of the life cycle.
    pub fn all(&self) -> impl Iterator<Item = (CaseState, u64)> + '_ {
        CaseState::ALL
            .into_iter()
            .map(|state| (state, self.slot(state).load(Ordering::Relaxed)))
    }

    pub fn get(&self, state: CaseState) -> u64 {
        self.slot(state).load(Ordering::Relaxed)
    }

    fn slot(&self, state: CaseState) -> &AtomicU64 {
        // The variants are declared in the order of ALL (tested below).
        &self.by_state[state as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseState::*;

    #[test]
    fn every_state_has_its_slot() {
        for (i, state) in CaseState::ALL.into_iter().enumerate() {
            assert_eq!(state as usize, i, "{state}");
        }
    }

    #[test]
    fn cases_are_counted_at_start_and_moved_by_commits() {
        let stats = CaseStats::counted([Received, Received, Incomplete, Signed]);
        let counts: Vec<(CaseState, u64)> = stats.all().collect();
        assert_eq!(counts.len(), 9, "every state, zero ones too");
        assert_eq!(stats.get(Received), 2);
        assert_eq!(stats.get(Incomplete), 1);
        assert_eq!(stats.get(Verified), 0);

        stats.moved(None, Incomplete);
        stats.moved(Some(Incomplete), Received);
        stats.moved(Some(Received), Verified);
        stats.moved(Some(Verified), Verified);
        assert_eq!(
            (
                stats.get(Incomplete),
                stats.get(Received),
                stats.get(Verified)
            ),
            (1, 2, 1)
        );
        // A move out of a state counted as empty (an update seen out of
        // order) does not wrap around.
        stats.moved(Some(Withdrawn), Rejected);
        assert_eq!((stats.get(Withdrawn), stats.get(Rejected)), (0, 1));
    }
}
