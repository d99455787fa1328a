//! Exponential backoff with jitter: how long to wait before the next attempt.
//!
//! The delay after attempt *n* fails is `base_delay × factor^(n−1)`, capped at `max_delay`
//! (1 s, 2 s, 4 s … 30 s by default), then jittered into its upper half so that clients throttled
//! together do not retry together. Jitter never pushes a delay past the cap. A delay the server
//! asked for (`x-amz-retry-after`, `Retry-After`) is honoured when it is longer, still capped.
//!
//! Retries also draw on a [`budget`] shared by every call through one circuit, so that
//! during an outage they cannot multiply the load on S3. A slow read may be [`hedge`]d: sent
//! again before it failed.

pub mod budget;
pub mod hedge;

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How delays are spread so that throttled clients do not retry in lockstep.
#[derive(Clone, Copy, Debug)]
pub enum Jitter {
    /// Exact delays: deterministic, for tests.
    None,
    /// Uniform in `[d/2, d]` from a fast per-thread generator (the default).
    Equal,
    /// Uniform in `[d/2, d]`, drawing from your source: a function returning values in `[0, 1)`.
    /// For deterministic tests of jitter itself.
    EqualWith(fn() -> f64),
}

/// When and how often a failed call is attempted again.
///
/// `const`, so a policy can live in a `static`. The attribute builds one from its
/// `max_attempts`, `base_delay` and `max_delay` arguments.
///
/// ```
/// use std::time::Duration;
/// use s3_ops_runtime::retry::RetryPolicy;
///
/// // Five attempts, 100 ms doubling up to 2 s.
/// let policy = RetryPolicy {
///     max_attempts: 5,
///     base_delay: Duration::from_millis(100),
///     max_delay: Duration::from_secs(2),
///     ..RetryPolicy::DEFAULT
/// };
/// let backoffs: Vec<Duration> = (1..5).map(|failed| policy.backoff(failed)).collect();
/// assert_eq!(backoffs, [100, 200, 400, 800].map(Duration::from_millis));
///
/// // The wait actually slept is jittered into the upper half of the backoff...
/// let wait = policy.delay(3, None);
/// assert!(Duration::from_millis(200) <= wait && wait <= Duration::from_millis(400));
/// // ...or is the server's `Retry-After` when that is longer, never past `max_delay`.
/// let asked = Duration::from_secs(60);
/// assert_eq!(policy.delay(3, Some(asked)), policy.max_delay);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, including the first; 1 disables retries.
    pub max_attempts: u32,
    /// The delay after the first failed attempt.
    pub base_delay: Duration,
    /// No delay is longer, jitter and server hints included.
    pub max_delay: Duration,
    /// Each further delay is this many times the previous one.
    pub factor: u32,
    /// How delays are spread.
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The most attempts a call makes, whatever a policy says: past this, retries only add load.
pub const MAX_ATTEMPTS: u32 = 100;

impl RetryPolicy {
    /// The attempts a call makes under this policy: `max_attempts` within `1..=`[`MAX_ATTEMPTS`].
    pub const fn attempts(&self) -> u32 {
        match self.max_attempts {
            0 => 1,
            n if n > MAX_ATTEMPTS => MAX_ATTEMPTS,
            n => n,
        }
    }

    /// The defaults: 3 attempts, 1 s doubling up to 30 s, equal jitter.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
        factor: 2,
        jitter: Jitter::Equal,
    };

    /// One attempt, no retry: the default for best-effort cleanup.
    pub const NO_RETRY: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        ..Self::DEFAULT
    };

    /// The delay after attempt `attempt` (1-based) failed, before jitter:
    /// `base_delay × factor^(attempt−1)`, capped at `max_delay`. Never overflows.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1);
        // Saturating, not checked: a power past `u128` is still zero when the base is zero,
        // and otherwise any nonzero base times it is past every `Duration`, so the cap.
        let multiplier = u128::from(self.factor).saturating_pow(exponent);
        let nanos = self.base_delay.as_nanos().saturating_mul(multiplier);
        if nanos < self.max_delay.as_nanos() {
            // Below the cap, so it fits a `Duration`.
            Duration::new(
                (nanos / 1_000_000_000) as u64,
                (nanos % 1_000_000_000) as u32,
            )
        } else {
            self.max_delay
        }
    }

    /// The wait after attempt `attempt` failed: the jittered backoff, or the server's hint when
    /// that is longer; never more than `max_delay`.
    pub fn delay(&self, attempt: u32, server_hint: Option<Duration>) -> Duration {
        let backoff = self.backoff(attempt);
        let jittered = match self.jitter {
            Jitter::None => backoff,
            Jitter::Equal => equal_jitter(backoff, thread_rng_unit()),
            Jitter::EqualWith(source) => equal_jitter(backoff, source()),
        };
        match server_hint {
            Some(hint) => jittered.max(hint).min(self.max_delay),
            None => jittered,
        }
    }
}

/// `d/2 + unit × d/2`, with `unit` clamped into `[0, 1]` so a faulty source cannot exceed `d`.
fn equal_jitter(d: Duration, unit: f64) -> Duration {
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let half = d / 2;
    half + (d - half).mul_f64(unit).min(d - half)
}

/// A uniform value in `[0, 1)` from a per-thread xorshift64* generator: a few nanoseconds and
/// no shared state, which is all jitter needs.
fn thread_rng_unit() -> f64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            // Seeded from the OS-randomised hasher keys; never zero.
            std::collections::hash_map::RandomState::new().build_hasher().finish() | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        let bits = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        bits as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attribute checks a delay it is given against the other's default, and says "the
    /// default `max_delay` (30s)" or "the default `base_delay` (1s)": these must be them.
    #[test]
    fn attribute_messages_name_the_default_delays() {
        assert_eq!(RetryPolicy::DEFAULT.base_delay, Duration::from_secs(1));
        assert_eq!(RetryPolicy::DEFAULT.max_delay, Duration::from_secs(30));
    }

    #[test]
    fn backoff_doubles_from_base_and_stops_at_the_cap() {
        let p = RetryPolicy::DEFAULT;
        let secs: Vec<u64> = (1..=7).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn a_zero_base_stays_zero_when_the_factor_power_overflows() {
        // 6^50 is past `u128`; zero times it is still zero, not the cap (found by proptest).
        let p = RetryPolicy {
            base_delay: Duration::ZERO,
            max_delay: Duration::from_millis(1),
            factor: 6,
            ..RetryPolicy::DEFAULT
        };
        assert_eq!(p.backoff(51), Duration::ZERO);
        assert_eq!(p.backoff(u32::MAX), Duration::ZERO);
        let nonzero = RetryPolicy {
            base_delay: Duration::from_nanos(1),
            ..p
        };
        assert_eq!(nonzero.backoff(51), Duration::from_millis(1));
    }

    #[test]
    fn equal_jitter_stays_in_the_upper_half() {
        let d = Duration::from_secs(4);
        assert_eq!(equal_jitter(d, 0.0), Duration::from_secs(2));
        assert_eq!(equal_jitter(d, 1.0), d);
        assert_eq!(equal_jitter(d, f64::NAN), d);
        assert_eq!(equal_jitter(d, 7.0), d);
        assert_eq!(equal_jitter(d, -1.0), Duration::from_secs(2));
    }

    #[test]
    fn thread_rng_is_uniformish_in_unit_interval() {
        let samples: Vec<f64> = (0..10_000).map(|_| thread_rng_unit()).collect();
        assert!(samples.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
    }

    #[test]
    fn server_hint_wins_when_longer_but_never_passes_the_cap() {
        let p = RetryPolicy {
            jitter: Jitter::None,
            ..RetryPolicy::DEFAULT
        };
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            p.delay(3, Some(Duration::from_millis(10))),
            Duration::from_secs(4)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(30)
        );
    }
}
