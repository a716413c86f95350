//! `sijil purge [--dry-run]` (SPEC §8): the retention sweep the daemon runs
//! on its own clock every hour, now, with the daemon stopped. `--dry-run`
//! lists the documents that would be destroyed and changes nothing.

use std::io::Write;
use std::sync::Arc;

use chrono::Utc;

use crate::apply::Applier;
use crate::apply::Doorbell;
use crate::config::Config;
use crate::core::{self, Input, retention};
use crate::edge::render::Renderer;
use crate::edge::store::{Committed, Origin, Store};
use crate::metrics::OutboxStats;

use super::out::Stop;

/// Lists what the sweep would purge now.
pub(super) fn dry_run(store: &Store, cfg: &Config, out: &mut dyn Write) -> Result<(), Stop> {
    let due = retention::due(store, cfg, Utc::now()).map_err(|e| e.to_string())?;
    let pending = store.pending_purges()?;
    if due.is_empty() && pending.is_empty() {
        writeln!(out, "nothing to purge")?;
        return Ok(());
    }
    for purge in &due {
        writeln!(
            out,
            "{}  ended {}",
            purge.reference,
            cfg.general.local_time(purge.ended_at)
        )?;
        for d in &purge.documents {
            writeln!(out, "    {}  {} bytes  sha256 {}", d.name, d.size, d.sha256)?;
        }
    }
    if !pending.is_empty() {
        writeln!(
            out,
            "{} document(s) already purged whose bytes are still to be destroyed",
            pending.len()
        )?;
    }
    Ok(())
}

/// Purges now: decided by the core, applied and destroyed as the daemon's
/// clock does.
pub(super) fn now(store: &Store, cfg: &Config, out: &mut dyn Write) -> Result<(), Stop> {
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
        Committed::Now { queued, .. } => queued,
        Committed::Already(_) => Vec::new(),
    };
    let destroyed = runtime.block_on(async {
        applier.durable(queued).await.map_err(|e| e.to_string())?;
        crate::failpoint::hit("purge_recorded");
        applier.destroy_pending().await.map_err(|e| e.to_string())
    })?;
    let cases = effects.cases.len();
    writeln!(
        out,
        "{cases} case(s) purged; {destroyed} document(s) destroyed"
    )?;
    Ok(())
}
