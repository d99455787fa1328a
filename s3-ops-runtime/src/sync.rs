//! Synchronisation primitives, swapped for loom's under `--cfg s3_ops_loom` so the breaker's
//! interleavings can be model-checked. (A custom cfg, not `loom`: tokio reads `cfg(loom)` too
//! and would switch to its own loom build.)

#[cfg(s3_ops_loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU32, AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(not(s3_ops_loom))]
pub(crate) use std::sync::{
    atomic::{AtomicU32, AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

/// Locks, ignoring poison: every critical section leaves the state consistent before anything
/// that can panic (tracing runs after unlocking).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(s3_ops_loom)]
    {
        mutex.lock().unwrap()
    }
    #[cfg(not(s3_ops_loom))]
    {
        mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
