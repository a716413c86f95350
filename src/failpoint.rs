//! Fault injection for the crash tests: `SIJIL_FAILPOINTS="after_commit=3"`
//! makes the process kill itself with SIGKILL the third time it passes the
//! named point. Without the variable every point is a no-op costing one
//! relaxed atomic load.
//!
//! Points: `after_fetch` (a message read, nothing decided), `after_commit`
//! (effect stored, message not yet moved), `after_send` (SMTP accepted an
//! email, the outbox not yet told), `purge_recorded` (`sijil purge`: the
//! purge committed and durable, no byte destroyed yet), `after_destroy`
//! (bytes destroyed, their pending record not yet removed), `sign_committed`
//! (a signature committed on the web, not yet durable), `sign_durable` (it
//! is durable, the page not yet sent).

use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

static ARMED: LazyLock<HashMap<String, (u64, AtomicU64)>> = LazyLock::new(|| {
    std::env::var("SIJIL_FAILPOINTS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|item| {
            let (name, n) = item.split_once('=')?;
            Some((
                name.trim().to_string(),
                (n.trim().parse().ok()?, AtomicU64::new(0)),
            ))
        })
        .collect()
});

/// Passes the point `name`; dies here if it is armed and its count is due.
pub fn hit(name: &str) {
    if ARMED.is_empty() {
        return;
    }
    if let Some((at, count)) = ARMED.get(name)
        && count.fetch_add(1, Ordering::SeqCst) + 1 == *at
    {
        tracing::warn!(failpoint = name, "failpoint reached: killing the process");
        // SAFETY: raising a signal on our own process has no memory-safety
        // preconditions; SIGKILL cannot be caught, so nothing runs after it.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
    }
}
