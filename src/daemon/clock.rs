//! The daemon's clock: at start and then every hour, a tick goes through
//! the core ([`Input::Tick`]) and its effects through the apply path, like
//! any other input (today: forgetting past reply counters; reminders and
//! purges are decided here too as they come).

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::apply::Applier;
use crate::core::{self, Input};
use crate::edge::store::{Committed, Origin};

const EVERY: Duration = Duration::from_secs(3600);

pub async fn run(applier: Applier, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let on_pool = applier.clone();
        let done = tokio::task::spawn_blocking(move || tick(&on_pool)).await;
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
        }
    }
}

/// Decides and commits one tick (on the blocking pool: a sweep may scan);
/// the ids of the emails it queued.
fn tick(applier: &Applier) -> Result<Vec<u64>, String> {
    let now = Utc::now();
    let effects = core::handle(Input::Tick, applier.store(), applier.cfg(), now)
        .map_err(|e| e.to_string())?;
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
        Committed::Now { queued } => Ok(queued),
        Committed::Already(_) => Ok(Vec::new()),
    }
}
