//! Where the metric cells live: one series per label set, created on first use and never
//! freed, so call sites keep `&'static` handles and never look a label up again.
//!
//! Memory stays bounded because label values are: operations come from the attribute's closed
//! list, bucket labels are capped (beyond the limit a bucket is counted as `other`), attempt
//! numbers are capped at `retry::MAX_ATTEMPTS` and created as attempts happen.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError, RwLock};
use std::time::Duration;

use super::shard::{Counter, Sharded};
use super::{HedgeOutcome, SkippedRetry};
use super::{OperationResult, DURATION_BUCKETS_NANOS};

/// The label distinct buckets share once the limit is reached.
pub const OTHER_BUCKET: &str = "other";

/// Distinct bucket labels kept before new buckets are counted as [`OTHER_BUCKET`].
pub const DEFAULT_BUCKET_LABEL_LIMIT: usize = 100;

const BUCKETS: usize = DURATION_BUCKETS_NANOS.len() + 1;

/// The cells of one `(operation, bucket)` series, one set per shard.
///
/// Successes and errors each have their own duration buckets, and their counts are the sums of
/// those: a finished call makes two atomic additions (its bucket, the duration sum) instead of
/// three. The exported histogram adds the two sets together.
#[derive(Default)]
pub(crate) struct OpCells {
    circuit_open: AtomicU64,
    duration_sum_nanos: AtomicU64,
    /// Not cumulative: one cell per bucket of `DURATION_BUCKETS_NANOS`, then `+Inf`; indexed by
    /// `OperationResult::Success` and `OperationResult::Error`.
    duration_buckets: [[AtomicU64; BUCKETS]; 2],
}

pub(crate) struct OpSeries {
    pub(crate) operation: &'static str,
    pub(crate) bucket: Box<str>,
    /// The operation's `attempt="1"` series: every call that starts counts it, so it is one
    /// load away from the series the call already holds.
    pub(crate) first_attempt: &'static AttemptSeries,
    cells: Sharded<OpCells>,
}

impl OpSeries {
    /// Counts a call refused by an open circuit (not observed in the histogram: it never ran).
    #[inline]
    pub(crate) fn count_circuit_open(&self) {
        self.cells
            .local()
            .circuit_open
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the result (`Success` or `Error`) and observes the call's duration, on shard
    /// `shard`.
    #[inline]
    pub(crate) fn finish(&self, result: OperationResult, elapsed: Duration, shard: usize) {
        debug_assert_ne!(result, OperationResult::CircuitOpen);
        // Whole seconds, then nanoseconds: no 128-bit arithmetic on the hot path.
        let nanos = elapsed
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(elapsed.subsec_nanos()));
        // A forward scan: calls are usually short, so it stops after a compare or two, and
        // unlike a binary search it does not make the atomics below wait on a chain of
        // dependent loads.
        let bucket = DURATION_BUCKETS_NANOS
            .iter()
            .position(|&upper| nanos <= upper)
            .unwrap_or(DURATION_BUCKETS_NANOS.len());
        let cells = self.cells.at(shard);
        let outcome = usize::from(result == OperationResult::Error);
        cells.duration_buckets[outcome][bucket].fetch_add(1, Ordering::Relaxed);
        cells.duration_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(crate) fn result_total(&self, result: OperationResult) -> u64 {
        let per_shard = |cells: &OpCells| match result {
            OperationResult::CircuitOpen => cells.circuit_open.load(Ordering::Relaxed),
            OperationResult::Success | OperationResult::Error => {
                let outcome = usize::from(result == OperationResult::Error);
                cells.duration_buckets[outcome]
                    .iter()
                    .map(|cell| cell.load(Ordering::Relaxed))
                    .sum()
            }
        };
        self.cells.iter().map(per_shard).sum()
    }

    /// Non-cumulative bucket counts of successes and errors together (the last is `+Inf`),
    /// and the sum of durations.
    pub(crate) fn duration(&self) -> (Vec<u64>, Duration) {
        let mut buckets = vec![0u64; BUCKETS];
        let mut sum = 0u64;
        for cells in self.cells.iter() {
            for outcome in &cells.duration_buckets {
                for (total, cell) in buckets.iter_mut().zip(outcome) {
                    *total += cell.load(Ordering::Relaxed);
                }
            }
            sum = sum.saturating_add(cells.duration_sum_nanos.load(Ordering::Relaxed));
        }
        (buckets, Duration::from_nanos(sum))
    }
}

pub(crate) struct AttemptSeries {
    pub(crate) operation: &'static str,
    pub(crate) attempt: u32,
    pub(crate) counter: Counter,
}

#[derive(Default)]
pub(crate) struct Store {
    ops: RwLock<HashMap<(&'static str, Box<str>), &'static OpSeries>>,
    attempts: RwLock<HashMap<(&'static str, u32), &'static AttemptSeries>>,
    bucket_labels: Mutex<HashSet<Box<str>>>,
    bucket_label_limit: AtomicUsize,
    skipped: LabelledCounters<(&'static str, SkippedRetry)>,
    hedged: LabelledCounters<(&'static str, HedgeOutcome)>,
}

pub(crate) fn store() -> &'static Store {
    static STORE: LazyLock<Store> = LazyLock::new(|| {
        super::ensure_registered();
        Store {
            bucket_label_limit: AtomicUsize::new(DEFAULT_BUCKET_LABEL_LIMIT),
            ..Store::default()
        }
    });
    &STORE
}

impl Store {
    /// The series of `(operation, bucket)`, created on first use. The slow path: call sites
    /// cache what it returns.
    pub(crate) fn op_series(&self, operation: &'static str, bucket: &str) -> &'static OpSeries {
        let label = self.bucket_label(bucket);
        let key = (operation, label);
        if let Some(series) = self
            .ops
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return series;
        }
        let first_attempt = self.attempt_series(operation, 1);
        let mut ops = self.ops.write().unwrap_or_else(PoisonError::into_inner);
        let (operation, bucket) = key;
        let entry = ops.entry((operation, bucket.clone()));
        entry.or_insert_with(|| {
            Box::leak(Box::new(OpSeries {
                operation,
                bucket,
                first_attempt,
                cells: Sharded::new(),
            }))
        })
    }

    pub(crate) fn attempt_series(
        &self,
        operation: &'static str,
        attempt: u32,
    ) -> &'static AttemptSeries {
        let key = (operation, attempt);
        if let Some(series) = self
            .attempts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return series;
        }
        let mut attempts = self
            .attempts
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        attempts.entry(key).or_insert_with(|| {
            Box::leak(Box::new(AttemptSeries {
                operation,
                attempt,
                counter: Counter::new(),
            }))
        })
    }

    /// The label for `bucket`: itself while fewer than the limit are in use, else `other`.
    fn bucket_label(&self, bucket: &str) -> Box<str> {
        let mut labels = self
            .bucket_labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if labels.contains(bucket) {
            return bucket.into();
        }
        if labels.len() < self.bucket_label_limit.load(Ordering::Relaxed) {
            labels.insert(bucket.into());
            return bucket.into();
        }
        OTHER_BUCKET.into()
    }

    pub(crate) fn set_bucket_label_limit(&self, limit: usize) {
        self.bucket_label_limit.store(limit, Ordering::Relaxed);
    }

    pub(crate) fn find_op(&self, operation: &str, bucket: &str) -> Option<&'static OpSeries> {
        self.ops
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|((op, b), _)| *op == operation && &**b == bucket)
            .map(|(_, series)| *series)
    }

    pub(crate) fn find_attempt(
        &self,
        operation: &str,
        attempt: u32,
    ) -> Option<&'static AttemptSeries> {
        self.attempts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|((op, n), _)| *op == operation && *n == attempt)
            .map(|(_, series)| *series)
    }

    /// Every series, sorted by labels so scrapes are stable.
    pub(crate) fn all_ops(&self) -> Vec<&'static OpSeries> {
        let mut all: Vec<_> = self
            .ops
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .copied()
            .collect();
        all.sort_by(|a, b| (a.operation, &a.bucket).cmp(&(b.operation, &b.bucket)));
        all
    }

    pub(crate) fn all_attempts(&self) -> Vec<&'static AttemptSeries> {
        let mut all: Vec<_> = self
            .attempts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .copied()
            .collect();
        all.sort_by_key(|a| (a.operation, a.attempt));
        all
    }

    /// The `s3_retries_skipped_total{operation, reason}` counter, created on first use: retries
    /// are skipped on the slow path, so a lookup is fine there.
    pub(crate) fn skipped(
        &self,
        operation: &'static str,
        reason: SkippedRetry,
    ) -> &'static Counter {
        self.skipped.counter((operation, reason))
    }

    /// Every skipped-retry counter, sorted by labels.
    pub(crate) fn all_skipped(&self) -> Vec<((&'static str, SkippedRetry), &'static Counter)> {
        self.skipped
            .all(|(operation, reason)| (*operation, reason.as_str()))
    }

    /// The `s3_hedged_attempts_total{operation, outcome}` counter, created on first use: a
    /// hedge is sent only on the slow path of a slow attempt.
    pub(crate) fn hedged(
        &self,
        operation: &'static str,
        outcome: HedgeOutcome,
    ) -> &'static Counter {
        self.hedged.counter((operation, outcome))
    }

    /// Every hedge counter, sorted by labels.
    pub(crate) fn all_hedged(&self) -> Vec<((&'static str, HedgeOutcome), &'static Counter)> {
        self.hedged
            .all(|(operation, outcome)| (*operation, outcome.as_str()))
    }
}

/// Counters of a series whose labels are an operation and one closed set of values, created on
/// first use and never dropped.
struct LabelledCounters<K> {
    counters: RwLock<HashMap<K, &'static Counter>>,
}

impl<K> Default for LabelledCounters<K> {
    fn default() -> Self {
        Self {
            counters: RwLock::default(),
        }
    }
}

impl<K: Copy + Eq + std::hash::Hash> LabelledCounters<K> {
    fn counter(&self, key: K) -> &'static Counter {
        if let Some(counter) = self
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return counter;
        }
        let mut counters = self
            .counters
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        counters
            .entry(key)
            .or_insert_with(|| Box::leak(Box::new(Counter::new())))
    }

    /// Every counter, sorted by `order`.
    fn all<O: Ord>(&self, order: impl Fn(&K) -> O) -> Vec<(K, &'static Counter)> {
        let mut all: Vec<_> = self
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(key, counter)| (*key, *counter))
            .collect();
        all.sort_by_key(|(key, _)| order(key));
        all
    }
}
