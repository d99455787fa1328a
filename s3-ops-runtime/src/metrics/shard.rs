//! Per-thread shards of metric cells.
//!
//! One shared counter incremented from every core turns each increment into a cache-line
//! transfer; under two busy threads that alone costs more than the rest of a call. Each thread
//! writes the shard it was given on first use and the collector sums the shards at scrape time,
//! when nobody is waiting.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// At most this many shards: enough to keep threads apart, few enough to keep each series small
/// (a series is `shards × 256` bytes).
const MAX_SHARDS: usize = 16;

fn shard_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .next_power_of_two()
            .min(MAX_SHARDS)
    })
}

/// This thread's shard number (unmasked): assigned round-robin on first use, so the first
/// `shards` threads (the runtime's workers, in practice) never share a shard. A call looks it
/// up once and uses it for every cell it touches.
#[inline]
pub(crate) fn thread_shard() -> usize {
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    INDEX.with(|index| {
        let mut i = index.get();
        if i == usize::MAX {
            i = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
            index.set(i);
        }
        i
    })
}

/// Aligned to two cache lines: adjacent-line prefetchers move lines in pairs.
#[repr(align(128))]
#[derive(Default)]
struct Padded<T>(T);

/// `T` once per shard.
pub(crate) struct Sharded<T> {
    shards: Box<[Padded<T>]>,
    mask: usize,
}

impl<T: Default> Sharded<T> {
    pub(crate) fn new() -> Self {
        let count = shard_count();
        Self {
            shards: (0..count).map(|_| Padded::default()).collect(),
            mask: count - 1,
        }
    }
}

impl<T> Sharded<T> {
    /// The calling thread's shard.
    #[inline]
    pub(crate) fn local(&self) -> &T {
        self.at(thread_shard())
    }

    /// The shard of [`thread_shard`] number `shard` (looked up once by the caller).
    #[inline]
    pub(crate) fn at(&self, shard: usize) -> &T {
        let index = shard & self.mask;
        debug_assert!(index < self.shards.len());
        // SAFETY: `mask == shards.len() - 1` (set in `new`, never changed), so `index` is in
        // bounds. Unchecked because it runs for every cell a call touches, and the check
        // costs a load and a branch each time.
        unsafe { &self.shards.get_unchecked(index).0 }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.shards.iter().map(|p| &p.0)
    }
}

/// A sharded monotonic counter.
pub(crate) type Counter = Sharded<AtomicU64>;

impl Sharded<AtomicU64> {
    /// Adds one on shard number `shard`.
    #[inline]
    pub(crate) fn inc_at(&self, shard: usize) {
        self.at(shard).fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self) -> u64 {
        self.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_a_power_of_two_and_sum_across_threads() {
        let counter = std::sync::Arc::new(Counter::new());
        assert!(counter.shards.len().is_power_of_two());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| counter.inc_at(thread_shard())))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(counter.sum(), 4000);
    }
}
