//! The counters `/metrics` shows (`crate::web` renders them), kept by the
//! parts that change things as they change them: a scrape reads no store.

use std::sync::atomic::AtomicU64;

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
