//! `Deserialize` for the settings (feature `serde`): the types' own field names, durations as
//! in the attribute (`"250ms"`), a retry budget as a number or `"unlimited"`, jitter as
//! `"equal"` or `"none"`. Missing fields keep their defaults, unknown ones are refused (a typo
//! must not pass for a default), and the result is checked as a whole.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::value::{self, show_duration};
use crate::breaker::{BreakerConfig, FailureRate};
use crate::retry::{Jitter, RetryPolicy, MAX_ATTEMPTS};

/// A duration written as the attribute's.
struct Humane(Duration);

impl<'de> Deserialize<'de> for Humane {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HumaneVisitor;
        impl Visitor<'_> for HumaneVisitor {
            type Value = Humane;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"250ms\", \"5s\", \"2m\" or \"1h\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Humane, E> {
                value::duration(text).map(Humane).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Humane, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: write \"{n}s\" for seconds or \"{n}ms\" for milliseconds"
                )))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Humane, E> {
                self.visit_str(&n.to_string())
            }
        }
        deserializer.deserialize_any(HumaneVisitor)
    }
}

/// A retry budget: tokens, or `"unlimited"` (also `null`, as the field's `None`).
struct Budget(Option<u32>);

impl<'de> Deserialize<'de> for Budget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BudgetVisitor;
        impl<'de> Visitor<'de> for BudgetVisitor {
            type Value = Budget;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of tokens, or \"unlimited\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Budget, E> {
                value::retry_budget(text).map(Budget).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Budget, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Budget, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Budget, E> {
                Ok(Budget(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Budget, E> {
                Ok(Budget(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Budget, D::Error> {
                inner.deserialize_any(self)
            }
        }
        deserializer.deserialize_any(BudgetVisitor)
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawBreaker {
    failure_threshold: u32,
    success_threshold: u32,
    open_timeout: Humane,
    half_open_max_calls: u32,
    retry_budget: Budget,
    failure_rate: Option<FailureRate>,
}

impl Default for RawBreaker {
    fn default() -> Self {
        let d = BreakerConfig::default();
        Self {
            failure_threshold: d.failure_threshold,
            success_threshold: d.success_threshold,
            open_timeout: Humane(d.open_timeout),
            half_open_max_calls: d.half_open_max_calls,
            retry_budget: Budget(d.retry_budget),
            failure_rate: d.failure_rate,
        }
    }
}

/// ```
/// use std::time::Duration;
/// use s3_ops_runtime::BreakerConfig;
///
/// let config: BreakerConfig = serde_json::from_str(
///     r#"{ "open_timeout": "30s", "retry_budget": "unlimited",
///          "failure_rate": { "threshold_percent": 50, "window_calls": 100, "minimum_calls": 20 } }"#,
/// ).unwrap();
/// assert_eq!(config.open_timeout, Duration::from_secs(30));
/// assert_eq!(config.failure_threshold, 5, "missing fields keep their defaults");
/// ```
impl<'de> Deserialize<'de> for BreakerConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawBreaker::deserialize(deserializer)?;
        let config = BreakerConfig {
            failure_threshold: raw.failure_threshold,
            success_threshold: raw.success_threshold,
            open_timeout: raw.open_timeout.0,
            half_open_max_calls: raw.half_open_max_calls,
            retry_budget: raw.retry_budget.0,
            failure_rate: raw.failure_rate,
        };
        match config.problem() {
            Some(problem) => Err(de::Error::custom(problem)),
            None => Ok(config),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    threshold_percent: u8,
    window_calls: u32,
    minimum_calls: u32,
}

/// ```
/// use s3_ops_runtime::FailureRate;
///
/// let rate: FailureRate = toml::from_str(
///     "threshold_percent = 50\nwindow_calls = 100\nminimum_calls = 20",
/// ).unwrap();
/// assert_eq!(rate.window_calls, 100);
/// ```
impl<'de> Deserialize<'de> for FailureRate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawRate::deserialize(deserializer)?;
        let rate = FailureRate {
            threshold_percent: raw.threshold_percent,
            window_calls: raw.window_calls,
            minimum_calls: raw.minimum_calls,
        };
        match rate.problem() {
            Some(problem) => Err(de::Error::custom(problem)),
            None => Ok(rate),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawJitter {
    None,
    Equal,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRetry {
    max_attempts: u32,
    base_delay: Humane,
    max_delay: Humane,
    factor: u32,
    jitter: RawJitter,
}

impl Default for RawRetry {
    fn default() -> Self {
        let d = RetryPolicy::DEFAULT;
        Self {
            max_attempts: d.max_attempts,
            base_delay: Humane(d.base_delay),
            max_delay: Humane(d.max_delay),
            factor: d.factor,
            jitter: RawJitter::Equal,
        }
    }
}

/// ```
/// use std::time::Duration;
/// use s3_ops_runtime::RetryPolicy;
///
/// let policy: RetryPolicy = toml::from_str(
///     "max_attempts = 5\nbase_delay = \"250ms\"\nmax_delay = \"10s\"\njitter = \"none\"",
/// ).unwrap();
/// assert_eq!(policy.base_delay, Duration::from_millis(250));
/// assert_eq!(policy.factor, 2, "missing fields keep their defaults");
/// ```
impl<'de> Deserialize<'de> for RetryPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawRetry::deserialize(deserializer)?;
        if !(1..=MAX_ATTEMPTS).contains(&raw.max_attempts) {
            return Err(de::Error::custom(format!(
                "`max_attempts` must be 1 to {MAX_ATTEMPTS}, not {}",
                raw.max_attempts
            )));
        }
        if raw.factor == 0 {
            return Err(de::Error::custom(
                "`factor` must be at least 1: each backoff is this many times the previous one",
            ));
        }
        let (base_delay, max_delay) = (raw.base_delay.0, raw.max_delay.0);
        if base_delay > max_delay {
            return Err(de::Error::custom(format!(
                "`base_delay` ({}) is longer than `max_delay` ({}): the first backoff would already exceed the cap",
                show_duration(base_delay),
                show_duration(max_delay)
            )));
        }
        Ok(RetryPolicy {
            max_attempts: raw.max_attempts,
            base_delay,
            max_delay,
            factor: raw.factor,
            jitter: match raw.jitter {
                RawJitter::None => Jitter::None,
                RawJitter::Equal => Jitter::Equal,
            },
        })
    }
}
