//! Hedged reads: when an attempt has not answered after a delay, one more identical attempt
//! starts, and the first useful answer wins. S3 GETs have a long tail (most answer in
//! milliseconds, a few per thousand take hundreds); a second request for the slow ones cuts the
//! tail for a few percent more requests.
//!
//! This module is the policy: when to hedge ([`HedgeDelay`]: a fixed delay, or a percentile of
//! the call site's recent attempt latencies) and how often (at most one hedge per ten calls of
//! the site, [`HEDGE_SHARE_PERCENT`]). The call engine runs the two attempts; a hedge also takes
//! [`HEDGE_COST`](super::budget::HEDGE_COST) from the circuit's retry budget and is sent only
//! while the circuit is closed.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// The share of a site's calls that may be hedged, at most.
pub const HEDGE_SHARE_PERCENT: u32 = 10;

/// A percentile delay is never below this: a hedge sooner than that would double requests
/// that were never slow.
pub const MIN_HEDGE_DELAY: Duration = Duration::from_millis(1);

/// Attempt latencies a site must have seen before a percentile means anything: until then,
/// no hedge.
pub const MIN_SAMPLES: u32 = 20;

/// When a slow attempt is hedged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HedgeDelay {
    /// After this long.
    After(Duration),
    /// After this percentile of the site's recent attempt latencies, in thousandths:
    /// `950` is the 95th percentile, `999` the 99.9th.
    Percentile(u16),
}

/// A call site's hedging: its rule, the latencies it has seen and the hedges it may still send.
///
/// `const`-constructible, so that generated code keeps one in a `static` next to the site.
///
/// ```
/// use std::time::Duration;
/// use s3_ops_runtime::retry::hedge::{Hedge, HedgeDelay};
///
/// static FIXED: Hedge = Hedge::new(HedgeDelay::After(Duration::from_millis(50)));
/// static TAIL: Hedge = Hedge::new(HedgeDelay::Percentile(950));
/// assert_eq!(FIXED.delay(), Some(Duration::from_millis(50)));
/// // A percentile needs latencies first.
/// assert_eq!(TAIL.delay(), None);
/// ```
pub struct Hedge {
    rule: HedgeDelay,
    latencies: LatencyWindow,
    /// Hedges the site may send, in tenths of a hedge: every call adds one, up to
    /// [`MAX_CREDIT`]; a hedge takes [`HEDGE_PRICE`].
    credit: AtomicU32,
}

/// One call's share of a hedge, in the credit's unit.
const CALL_CREDIT: u32 = 1;
/// What one hedge costs: `100 / HEDGE_SHARE_PERCENT` calls' credit.
const HEDGE_PRICE: u32 = 100 / HEDGE_SHARE_PERCENT;
/// Hedges saved up while attempts were fast, at most: a burst of slow answers after a quiet
/// hour gets ten hedges at once, then one per ten calls.
const MAX_CREDIT: u32 = 10 * HEDGE_PRICE;

impl Hedge {
    /// A site hedging by `rule`, having seen no latency and with no hedge saved up.
    pub const fn new(rule: HedgeDelay) -> Self {
        Self {
            rule,
            latencies: LatencyWindow::new(),
            credit: AtomicU32::new(0),
        }
    }

    /// The rule.
    pub fn rule(&self) -> HedgeDelay {
        self.rule
    }

    /// How long an attempt may run before it is hedged; `None`, no hedge (a percentile without
    /// enough latencies yet).
    pub fn delay(&self) -> Option<Duration> {
        match self.rule {
            HedgeDelay::After(delay) => Some(delay),
            HedgeDelay::Percentile(_) => self.latencies.cached(),
        }
    }

    /// Counts one call of the site: a tenth of a hedge more it may send.
    pub(crate) fn count_call(&self) {
        // A load first: a site that is never slow has its credit full and only reads it.
        if self.credit.load(Ordering::Relaxed) < MAX_CREDIT {
            let _ = self
                .credit
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |credit| {
                    (credit < MAX_CREDIT).then(|| (credit + CALL_CREDIT).min(MAX_CREDIT))
                });
        }
    }

    /// Takes the credit of one hedge; `false` when the site has hedged its share already.
    pub(crate) fn try_take(&self) -> bool {
        self.credit
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |credit| {
                credit.checked_sub(HEDGE_PRICE)
            })
            .is_ok()
    }

    /// Gives back a hedge taken with [`try_take`](Self::try_take) but not sent.
    pub(crate) fn give_back(&self) {
        let _ = self
            .credit
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |credit| {
                Some((credit + HEDGE_PRICE).min(MAX_CREDIT))
            });
    }

    /// Records how long an attempt ran: until its answer, or until it was dropped for its
    /// hedge's (then a lower bound, which keeps slow attempts in the window).
    pub(crate) fn record(&self, latency: Duration) {
        if let HedgeDelay::Percentile(permille) = self.rule {
            self.latencies.record(latency, permille);
        }
    }
}

/// Latency buckets: 8 of one microsecond, then 4 per power of two up to about 134 s.
const BUCKETS: usize = 8 + 4 * 25;
/// Samples per generation: the window holds the last 256 to 512 attempts.
const GENERATION: usize = 256;
/// The percentile is recomputed every this many samples, not on every call.
const REFRESH_EVERY: usize = 16;

/// The recent attempt latencies of one site, as a histogram of two generations: the one being
/// filled and the one before it. When the current one is full, the older one is cleared and
/// becomes current, so old latencies leave the window.
///
/// Approximate under concurrency (a sample may land in a generation being cleared): it only
/// chooses when to hedge, and the cap bounds what a wrong choice costs.
struct LatencyWindow {
    buckets: [[AtomicU32; BUCKETS]; 2],
    /// Samples recorded, ever; the current generation is `(samples / GENERATION) % 2`.
    samples: AtomicUsize,
    /// The percentile in nanoseconds as last computed; 0 for none yet.
    cached_nanos: AtomicU64,
}

impl LatencyWindow {
    const fn new() -> Self {
        Self {
            buckets: [
                [const { AtomicU32::new(0) }; BUCKETS],
                [const { AtomicU32::new(0) }; BUCKETS],
            ],
            samples: AtomicUsize::new(0),
            cached_nanos: AtomicU64::new(0),
        }
    }

    fn cached(&self) -> Option<Duration> {
        match self.cached_nanos.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    fn record(&self, latency: Duration, permille: u16) {
        let sample = self.samples.fetch_add(1, Ordering::Relaxed);
        let generation = (sample / GENERATION) % 2;
        self.buckets[generation][bucket_of(latency)].fetch_add(1, Ordering::Relaxed);
        let next = sample + 1;
        if next.is_multiple_of(GENERATION) {
            // The next generation starts empty: the oldest samples leave the window.
            for cell in &self.buckets[(next / GENERATION) % 2] {
                cell.store(0, Ordering::Relaxed);
            }
        }
        if next.is_multiple_of(REFRESH_EVERY) || next == MIN_SAMPLES as usize {
            let nanos = self
                .percentile(permille)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            self.cached_nanos.store(nanos, Ordering::Relaxed);
        }
    }

    /// The `permille`th latency of the window, rounded up to its bucket's upper bound (a
    /// little late rather than a little early), never below [`MIN_HEDGE_DELAY`].
    fn percentile(&self, permille: u16) -> Option<Duration> {
        let counts: Vec<u64> = (0..BUCKETS)
            .map(|i| {
                self.buckets
                    .iter()
                    .map(|generation| u64::from(generation[i].load(Ordering::Relaxed)))
                    .sum()
            })
            .collect();
        let total: u64 = counts.iter().sum();
        if total < u64::from(MIN_SAMPLES) {
            return None;
        }
        // The smallest latency with at least `permille` thousandths of the samples at or below.
        let rank = (total * u64::from(permille)).div_ceil(1000).max(1);
        let mut seen = 0;
        let bucket = counts.iter().position(|&count| {
            seen += count;
            seen >= rank
        })?;
        Some(upper_bound(bucket).max(MIN_HEDGE_DELAY))
    }
}

/// The bucket of a latency: microseconds below 8 exactly, then a quarter of each power of two.
fn bucket_of(latency: Duration) -> usize {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    if micros < 8 {
        return micros as usize;
    }
    let exponent = 63 - micros.leading_zeros() as usize; // at least 3
    let quarter = ((micros >> (exponent - 2)) & 3) as usize;
    (8 + (exponent - 3) * 4 + quarter).min(BUCKETS - 1)
}

/// The latency just above every one of `bucket`.
fn upper_bound(bucket: usize) -> Duration {
    if bucket < 8 {
        return Duration::from_micros(bucket as u64 + 1);
    }
    let exponent = (bucket - 8) / 4 + 3;
    let quarter = ((bucket - 8) % 4) as u64;
    Duration::from_micros((5 + quarter) << (exponent - 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_is_below_its_buckets_upper_bound_and_above_the_one_before() {
        for micros in (0..5_000u64).chain((1..40).map(|shift| (1u64 << shift) + 3)) {
            let latency = Duration::from_micros(micros);
            let bucket = bucket_of(latency);
            if bucket == BUCKETS - 1 {
                continue;
            }
            assert!(
                latency < upper_bound(bucket),
                "{micros} µs, bucket {bucket}"
            );
            if bucket > 0 {
                assert!(
                    latency >= upper_bound(bucket - 1),
                    "{micros} µs, bucket {bucket}"
                );
            }
        }
        // A bucket spans at most a quarter of its lower bound: the estimate is at most 25 % late.
        for bucket in 9..BUCKETS {
            let (low, high) = (upper_bound(bucket - 1), upper_bound(bucket));
            assert!(
                high.as_micros() * 4 <= low.as_micros() * 5,
                "bucket {bucket}"
            );
        }
    }

    #[test]
    fn the_percentile_of_the_window() {
        let window = LatencyWindow::new();
        for _ in 0..95 {
            window.record(Duration::from_millis(2), 950);
        }
        for _ in 0..5 {
            window.record(Duration::from_millis(300), 950);
        }
        let p95 = window.percentile(950).unwrap();
        assert!(
            Duration::from_millis(2) < p95 && p95 <= Duration::from_micros(2_500),
            "{p95:?}"
        );
        let p99 = window.percentile(990).unwrap();
        assert!(
            Duration::from_millis(300) < p99 && p99 <= Duration::from_millis(375),
            "{p99:?}"
        );
    }

    #[test]
    fn no_percentile_before_enough_samples_and_never_below_a_millisecond() {
        let window = LatencyWindow::new();
        for n in 1..MIN_SAMPLES {
            window.record(Duration::from_micros(10), 950);
            assert_eq!(window.cached(), None, "{n} samples");
        }
        window.record(Duration::from_micros(10), 950);
        assert_eq!(window.cached(), Some(MIN_HEDGE_DELAY));
    }

    /// Slow latencies leave the window two generations after theirs, whichever of the two
    /// generations they were written to.
    #[test]
    fn old_latencies_leave_the_window() {
        for fast_first in [0, GENERATION] {
            let window = LatencyWindow::new();
            for _ in 0..fast_first {
                window.record(Duration::from_millis(5), 500);
            }
            for _ in 0..GENERATION {
                window.record(Duration::from_millis(500), 500);
            }
            for _ in 0..2 * GENERATION {
                window.record(Duration::from_millis(5), 500);
            }
            let p99 = window.percentile(999).unwrap();
            assert!(p99 <= Duration::from_millis(7), "{fast_first}: {p99:?}");
        }
    }

    /// Between one generation and two of the newest samples count: 100 fast ones after two
    /// generations of slow ones sit beside the last whole slow generation (256 samples), so
    /// the 40th percentile is still slow.
    #[test]
    fn the_window_keeps_the_last_whole_generation() {
        let window = LatencyWindow::new();
        for _ in 0..2 * GENERATION {
            window.record(Duration::from_millis(100), 400);
        }
        for _ in 0..100 {
            window.record(Duration::from_millis(1), 400);
        }
        let p40 = window.percentile(400).unwrap();
        assert!(p40 >= Duration::from_millis(100), "{p40:?}");
        let p20 = window.percentile(200).unwrap();
        assert!(p20 <= Duration::from_micros(1_250), "{p20:?}");
    }

    #[test]
    fn at_most_one_hedge_per_ten_calls_and_a_burst_of_ten() {
        let hedge = Hedge::new(HedgeDelay::After(Duration::from_millis(5)));
        assert!(!hedge.try_take(), "no call yet, no hedge");
        for _ in 0..9 {
            hedge.count_call();
        }
        assert!(!hedge.try_take(), "nine calls");
        hedge.count_call();
        assert!(hedge.try_take(), "ten calls");
        assert!(!hedge.try_take());
        for _ in 0..10_000 {
            hedge.count_call();
        }
        let burst = std::iter::from_fn(|| hedge.try_take().then_some(())).count();
        assert_eq!(burst, 10, "credit saved up is capped");
        hedge.count_call();
        hedge.give_back();
        assert!(hedge.try_take());
        assert!(!hedge.try_take(), "what was given back, and a tenth");
    }
}
