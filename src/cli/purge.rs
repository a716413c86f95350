//! `sijil purge [--dry-run]` (SPEC §8): the retention sweep the daemon runs
//! on its own clock every hour, now, with the daemon stopped. `--dry-run`
//! lists the documents that would be destroyed and changes nothing.

use std::sync::Arc;

use chrono::Utc;

use crate::apply::Applier;
use crate::apply::Doorbell;
use crate::config::Config;
use crate::core::{self, Input, retention};
use crate::edge::render::Renderer;
use crate::edge::store::{Committed, Origin, Store};
use crate::metrics::OutboxStats;

/// Lists what the sweep would purge now.
pub fn dry_run(store: &Store, cfg: &Config) -> Result<(), String> {
    let due = retention::due(store, cfg, Utc::now()).map_err(|e| e.to_string())?;
    let pending = store.pending_purges().map_err(|e| e.to_string())?;
    if due.is_empty() && pending.is_empty() {
        println!("nothing to purge");
        return Ok(());
    }
    for purge in &due {
        println!(
            "{}  ended {}",
            purge.reference,
            purge.ended_at.format("%Y-%m-%d %H:%M UTC")
        );
        for d in &purge.documents {
            println!("    {}  {} bytes  sha256 {}", d.name, d.size, d.sha256);
        }
    }
    if !pending.is_empty() {
        println!(
            "{} document(s) already purged whose bytes are still to be destroyed",
            pending.len()
        );
    }
    Ok(())
}

/// Purges now: decided by the core, applied and destroyed as the daemon's
/// clock does.
pub fn now(store: &Store, cfg: &Config) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let renderer = Renderer::new().map_err(|e| format!("templates: {e:#}"))?;
    let applier = Applier::new(
        store.clone(),
        Arc::new(renderer),
        Arc::new(cfg.clone()),
        Arc::new(Doorbell::default()),
        Arc::new(OutboxStats::default()),
    );
    let now = Utc::now();
    let effects = core::handle(Input::Tick, store, cfg, now).map_err(|e| e.to_string())?;
    let seed = format!("purge:{}", now.to_rfc3339());
    let queued = match applier
        .apply(Origin::Clock, &seed, &effects, &[], now)
        .map_err(|e| e.to_string())?
    {
        Committed::Now { queued } => queued,
        Committed::Already(_) => Vec::new(),
    };
    runtime.block_on(async {
        applier.durable(queued).await.map_err(|e| e.to_string())?;
        crate::failpoint::hit("purge_recorded");
        let destroyed = applier.destroy_pending().await.map_err(|e| e.to_string())?;
        let cases = effects.cases.len();
        println!("{cases} case(s) purged; {destroyed} document(s) destroyed");
        Ok(())
    })
}
