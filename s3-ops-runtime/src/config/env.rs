//! Settings from environment variables: `{prefix}OPEN_TIMEOUT=5s` and the like, read through a
//! lookup function so that tests (and other sources of `NAME=value` pairs) need not touch the
//! process environment.

use std::time::Duration;

use super::value::{self, show_duration};
use super::ConfigError;
use crate::breaker::BreakerConfig;
use crate::retry::{RetryPolicy, MAX_ATTEMPTS};

/// The variables of a [`BreakerConfig`], after the prefix.
pub(crate) const BREAKER_VARIABLES: [&str; 6] = [
    "FAILURE_THRESHOLD",
    "SUCCESS_THRESHOLD",
    "OPEN_TIMEOUT",
    "HALF_OPEN_MAX_CALLS",
    "RETRY_BUDGET",
    "FAILURE_RATE",
];

/// The variables of a [`RetryPolicy`], after the prefix.
pub(crate) const RETRY_VARIABLES: [&str; 3] = ["MAX_ATTEMPTS", "BASE_DELAY", "MAX_DELAY"];

/// A variable of the process environment; a value that is not UTF-8 is kept, lossily, so that
/// it is reported rather than taken for unset.
fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
}

/// The variables under one prefix.
struct Vars<'p, F> {
    prefix: &'p str,
    lookup: F,
}

impl<F: FnMut(&str) -> Option<String>> Vars<'_, F> {
    fn name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// `{prefix}{suffix}` through `parse`; `None` when unset.
    fn read<T>(
        &mut self,
        suffix: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let name = self.name(suffix);
        let Some(text) = (self.lookup)(&name) else {
            return Ok(None);
        };
        parse(&text)
            .map(Some)
            .map_err(|problem| ConfigError::new(name, Some(&text), problem))
    }

    fn count(&mut self, suffix: &str, min: u32, max: u32) -> Result<Option<u32>, ConfigError> {
        self.read(suffix, |text| value::count(text, min, max))
    }

    fn duration(&mut self, suffix: &str) -> Result<Option<Duration>, ConfigError> {
        self.read(suffix, value::duration)
    }
}

impl BreakerConfig {
    /// The default thresholds, with what the environment sets under `prefix` instead:
    ///
    /// | variable | value | field |
    /// |---|---|---|
    /// | `{prefix}FAILURE_THRESHOLD` | a whole number ≥ 1 | [`failure_threshold`](Self::failure_threshold) |
    /// | `{prefix}SUCCESS_THRESHOLD` | a whole number ≥ 1 | [`success_threshold`](Self::success_threshold) |
    /// | `{prefix}OPEN_TIMEOUT` | a duration: `250ms`, `30s`, `2m`, `1h` | [`open_timeout`](Self::open_timeout) |
    /// | `{prefix}HALF_OPEN_MAX_CALLS` | a whole number ≥ 1 | [`half_open_max_calls`](Self::half_open_max_calls) |
    /// | `{prefix}RETRY_BUDGET` | tokens (`500`), or `unlimited` | [`retry_budget`](Self::retry_budget) |
    /// | `{prefix}FAILURE_RATE` | `50%/100/20` (threshold, window, minimum calls), or `off` | [`failure_rate`](Self::failure_rate) |
    ///
    /// An unset variable keeps the default; a set one must be valid, empty included.
    ///
    /// ```
    /// use s3_ops_runtime::{BreakerConfig, CircuitBreaker};
    ///
    /// # fn main() -> Result<(), s3_ops_runtime::ConfigError> {
    /// // S3_OPS_UPLOAD_OPEN_TIMEOUT=5s S3_OPS_UPLOAD_FAILURE_RATE=50%/100/20 ./service
    /// let upload = CircuitBreaker::with_config("s3-upload", BreakerConfig::from_env("S3_OPS_UPLOAD_")?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A variable that is set to something else than the table says, naming the variable and
    /// its value.
    pub fn from_env(prefix: &str) -> Result<Self, ConfigError> {
        Self::default().with_env(prefix)
    }

    /// These thresholds, with what the environment sets under `prefix` instead; the variables
    /// are [`from_env`](Self::from_env)'s. For defaults of your own that the environment can
    /// still override.
    ///
    /// ```
    /// use std::time::Duration;
    /// use s3_ops_runtime::BreakerConfig;
    ///
    /// # fn main() -> Result<(), s3_ops_runtime::ConfigError> {
    /// let config = BreakerConfig {
    ///     open_timeout: Duration::from_secs(10),
    ///     ..BreakerConfig::default()
    /// }
    /// .with_env("S3_OPS_DOWNLOAD_")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env); also when these thresholds themselves are out of range
    /// (a zero threshold), which `CircuitBreaker::with_config` would refuse.
    pub fn with_env(self, prefix: &str) -> Result<Self, ConfigError> {
        self.with_vars(prefix, process_env)
    }

    /// These thresholds, with the variables `lookup` finds under `prefix` instead: `lookup`
    /// answers a variable's value, or `None` when it is unset. For tests, or settings kept
    /// elsewhere than in the process environment.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::time::Duration;
    /// use s3_ops_runtime::BreakerConfig;
    ///
    /// let vars = HashMap::from([("UPLOAD_OPEN_TIMEOUT", "5s"), ("UPLOAD_RETRY_BUDGET", "unlimited")]);
    /// let config = BreakerConfig::default()
    ///     .with_vars("UPLOAD_", |name| vars.get(name).map(|v| v.to_string()))
    ///     .unwrap();
    /// assert_eq!(config.open_timeout, Duration::from_secs(5));
    /// assert_eq!(config.retry_budget, None);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`with_env`](Self::with_env).
    pub fn with_vars(
        self,
        prefix: &str,
        lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut vars = Vars { prefix, lookup };
        let [failure, success, timeout, probes, budget, rate] = BREAKER_VARIABLES;
        let config = BreakerConfig {
            failure_threshold: vars
                .count(failure, 1, u32::MAX)?
                .unwrap_or(self.failure_threshold),
            success_threshold: vars
                .count(success, 1, u32::MAX)?
                .unwrap_or(self.success_threshold),
            open_timeout: vars.duration(timeout)?.unwrap_or(self.open_timeout),
            half_open_max_calls: vars
                .count(probes, 1, u32::MAX)?
                .unwrap_or(self.half_open_max_calls),
            retry_budget: vars
                .read(budget, value::retry_budget)?
                .unwrap_or(self.retry_budget),
            failure_rate: vars
                .read(rate, value::failure_rate)?
                .unwrap_or(self.failure_rate),
        };
        // Each variable was checked alone; what is left are thresholds given in code.
        match config.problem() {
            Some(problem) => Err(ConfigError::new(
                format!("{prefix}* over the thresholds given in code"),
                None,
                problem,
            )),
            None => Ok(config),
        }
    }
}

impl RetryPolicy {
    /// The default policy ([`RetryPolicy::DEFAULT`]: 3 attempts, 1 s doubling up to 30 s), with
    /// what the environment sets under `prefix` instead:
    ///
    /// | variable | value | field |
    /// |---|---|---|
    /// | `{prefix}MAX_ATTEMPTS` | a whole number from 1 to 100 | [`max_attempts`](Self::max_attempts) |
    /// | `{prefix}BASE_DELAY` | a duration: `250ms`, `1s`, `2m`, `1h` | [`base_delay`](Self::base_delay) |
    /// | `{prefix}MAX_DELAY` | a duration, at least the base delay | [`max_delay`](Self::max_delay) |
    ///
    /// An unset variable keeps the default; a set one must be valid, empty included. Give the
    /// policy to the attribute with `retry = <expr>`.
    ///
    /// ```
    /// use s3_ops_runtime::RetryPolicy;
    ///
    /// # fn main() -> Result<(), s3_ops_runtime::ConfigError> {
    /// // S3_OPS_UPLOAD_MAX_ATTEMPTS=5 S3_OPS_UPLOAD_BASE_DELAY=250ms ./service
    /// let upload_retry = RetryPolicy::from_env("S3_OPS_UPLOAD_")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A variable that is set to something else than the table says, naming the variable and
    /// its value.
    pub fn from_env(prefix: &str) -> Result<Self, ConfigError> {
        Self::DEFAULT.with_env(prefix)
    }

    /// This policy, with what the environment sets under `prefix` instead; the variables are
    /// [`from_env`](Self::from_env)'s.
    ///
    /// ```
    /// use s3_ops_runtime::RetryPolicy;
    ///
    /// # fn main() -> Result<(), s3_ops_runtime::ConfigError> {
    /// let cleanup_retry = RetryPolicy::NO_RETRY.with_env("S3_OPS_CLEANUP_")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn with_env(self, prefix: &str) -> Result<Self, ConfigError> {
        self.with_vars(prefix, process_env)
    }

    /// This policy, with the variables `lookup` finds under `prefix` instead: `lookup` answers
    /// a variable's value, or `None` when it is unset.
    ///
    /// ```
    /// use std::time::Duration;
    /// use s3_ops_runtime::RetryPolicy;
    ///
    /// let policy = RetryPolicy::DEFAULT
    ///     .with_vars("UPLOAD_", |name| (name == "UPLOAD_BASE_DELAY").then(|| "250ms".into()))
    ///     .unwrap();
    /// assert_eq!(policy.base_delay, Duration::from_millis(250));
    ///
    /// let err = RetryPolicy::DEFAULT
    ///     .with_vars("UPLOAD_", |name| (name == "UPLOAD_MAX_ATTEMPTS").then(|| "1000".into()))
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "UPLOAD_MAX_ATTEMPTS=\"1000\": too large: write a whole number from 1 to 100");
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn with_vars(
        self,
        prefix: &str,
        lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut vars = Vars { prefix, lookup };
        let [attempts, base, max] = RETRY_VARIABLES;
        let max_attempts = vars.count(attempts, 1, MAX_ATTEMPTS)?;
        let base_delay = vars.duration(base)?;
        let max_delay = vars.duration(max)?;
        let policy = RetryPolicy {
            max_attempts: max_attempts.unwrap_or(self.max_attempts),
            base_delay: base_delay.unwrap_or(self.base_delay),
            max_delay: max_delay.unwrap_or(self.max_delay),
            ..self
        };
        if policy.base_delay > policy.max_delay {
            // Blame the variable that was set; when both were, the base delay.
            let (blamed, other, other_value) = match (base_delay, max_delay) {
                (None, Some(_)) => (max, base, policy.base_delay),
                _ => (base, max, policy.max_delay),
            };
            let name = vars.name(blamed);
            let text = (vars.lookup)(&name);
            let other_source = if base_delay.is_some() && max_delay.is_some() {
                vars.name(other)
            } else {
                format!("the {} in code", other.to_lowercase().replace('_', " "))
            };
            return Err(ConfigError::new(
                name,
                text.as_deref(),
                format!(
                    "the base delay must not be longer than the max delay ({other_source} is {}): the first backoff would already exceed the cap",
                    show_duration(other_value)
                ),
            ));
        }
        Ok(policy)
    }
}
