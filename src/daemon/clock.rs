//! The daemon's clock: at start and then every hour, a tick goes through
//! the core ([`Input::Tick`]) and its effects through the apply path, like
//! any other input: documents of cases that ended long enough ago are
//! purged (their bytes destroyed once the commit that records it is
//! durable, and again after a crash cut that short), old message records
//! and past reply counters forgotten.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::apply::Applier;
use crate::core::case::EventKind;
use crate::core::{self, Effects, Input};
use crate::edge::store::{Committed, Origin};
use crate::metrics::RetentionStats;

const EVERY: Duration = Duration::from_secs(3600);

pub async fn run(applier: Applier, stats: Arc<RetentionStats>, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let on_pool = applier.clone();
        let counted = stats.clone();
        let done = tokio::task::spawn_blocking(move || tick(&on_pool, &counted)).await;
        let queued = match done {
            Ok(Ok(queued)) => queued,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "clock tick not applied");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "clock tick failed");
                continue;
            }
        };
        if let Err(e) = applier.durable(queued).await {
            tracing::warn!(error = %e, "clock tick not made durable");
            continue;
        }
        match applier.destroy_pending().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(documents = n, "document bytes destroyed"),
            Err(e) => tracing::error!(error = %e, "purged documents not destroyed yet; next tick"),
        }
    }
}

/// Decides and commits one tick (on the blocking pool: a sweep may scan);
/// the ids of the emails it queued.
fn tick(applier: &Applier, stats: &RetentionStats) -> Result<Vec<u64>, String> {
    let now = Utc::now();
    let effects = core::handle(Input::Tick, applier.store(), applier.cfg(), now)
        .map_err(|e| e.to_string())?;
    let purged = purged_documents(&effects);
    match applier
        .apply(
            Origin::Clock,
            &format!("tick:{}", now.to_rfc3339()),
            &effects,
            &[],
            now,
        )
        .map_err(|e| e.to_string())?
    {
        Committed::Now { queued, .. } => {
            if purged > 0 {
                tracing::info!(documents = purged, "documents purged");
                stats.documents_purged.fetch_add(purged, Ordering::Relaxed);
            }
            Ok(queued)
        }
        Committed::Already(_) => Ok(Vec::new()),
    }
}

/// How many documents the effects mark purged (one history line per case
/// names them).
pub fn purged_documents(effects: &Effects) -> u64 {
    effects
        .events
        .iter()
        .map(|(_, e)| match &e.what {
            EventKind::DocumentsPurged { documents } => documents.len() as u64,
            _ => 0,
        })
        .sum()
}
