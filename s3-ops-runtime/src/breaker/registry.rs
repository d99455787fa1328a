//! The breakers alive in the process, for whoever reports on them (the metrics collector):
//! each breaker adds itself here, and nothing here knows who reads it.

#[cfg(not(s3_ops_loom))]
use std::sync::{Mutex, PoisonError, Weak};

use super::{BreakerOverride, CircuitState, Inner};
use crate::sync::{lock, Arc};

#[cfg(not(s3_ops_loom))]
static LIVE: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

#[cfg(not(s3_ops_loom))]
pub(super) fn add(inner: &Arc<Inner>) {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    // Forget breakers that are gone, so creating breakers in a loop stays bounded.
    live.retain(|weak| weak.strong_count() > 0);
    live.push(Arc::downgrade(inner));
}

/// The breakers alive now (the entries of dropped ones are pruned by the next `add`).
#[cfg(not(s3_ops_loom))]
fn live() -> Vec<Arc<Inner>> {
    let live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.iter().filter_map(Weak::upgrade).collect()
}

/// Under loom, whose `Arc` has no `Weak`, no breaker registers: the models read no metrics.
#[cfg(s3_ops_loom)]
fn live() -> Vec<Arc<Inner>> {
    Vec::new()
}

/// What one live breaker reports.
#[derive(Clone, Debug)]
pub(crate) struct BreakerReport {
    pub(crate) name: String,
    pub(crate) state: CircuitState,
    pub(crate) held: BreakerOverride,
    /// Transitions since creation, by `[from][to]` state (`CircuitState as usize`).
    pub(crate) transitions: [[u64; 3]; 3],
}

/// A report of every live breaker, in no particular order.
pub(crate) fn reports() -> Vec<BreakerReport> {
    live()
        .iter()
        .map(|inner| {
            let (held, transitions) = {
                let machine = lock(&inner.machine);
                (machine.held(), machine.counts)
            };
            BreakerReport {
                name: inner.name.to_string(),
                state: inner.state(),
                held,
                transitions,
            }
        })
        .collect()
}
