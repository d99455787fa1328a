//! Breaker and retry settings from outside the code, so that an incident is handled with a
//! restart rather than a rebuild: from environment variables
//! ([`BreakerConfig::from_env`](crate::BreakerConfig::from_env),
//! [`RetryPolicy::from_env`](crate::RetryPolicy::from_env)) and, with feature `serde`, from any
//! serde format (TOML, JSON, YAML …) with the types' own field names.
//!
//! Values are written as people write them: durations as in the attribute (`250ms`, `5s`,
//! `2m`, `1h`), a retry budget as a number of tokens or `unlimited`, a failure rate as
//! `50%/100/20`. A malformed value is a [`ConfigError`] naming the setting and the value, never
//! a silent default; the result is checked as a whole, so it never makes
//! [`CircuitBreaker::with_config`](crate::CircuitBreaker::with_config) panic.

mod env;
#[cfg(feature = "serde")]
mod serde;
mod value;

use std::error::Error as StdError;
use std::fmt;

/// A setting that could not be read: which one, the value given, and what is wrong with it
/// (saying what to write instead).
///
/// ```
/// use s3_ops_runtime::{BreakerConfig, ConfigError};
///
/// let err: ConfigError = BreakerConfig::default()
///     .with_vars("S3_OPS_UPLOAD_", |name| {
///         (name == "S3_OPS_UPLOAD_OPEN_TIMEOUT").then(|| "5".to_owned())
///     })
///     .unwrap_err();
/// assert_eq!(err.setting(), "S3_OPS_UPLOAD_OPEN_TIMEOUT");
/// assert_eq!(err.value(), Some("5"));
/// assert_eq!(
///     err.to_string(),
///     "S3_OPS_UPLOAD_OPEN_TIMEOUT=\"5\": no unit: write `5s` for seconds or `5ms` for milliseconds (or `m`, `h`)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    setting: String,
    value: Option<String>,
    problem: String,
}

impl ConfigError {
    pub(crate) fn new(setting: impl Into<String>, value: Option<&str>, problem: String) -> Self {
        Self {
            setting: setting.into(),
            value: value.map(str::to_owned),
            problem,
        }
    }

    /// The environment variable (or, from serde, the field) that is wrong.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// The value it was given; `None` when the problem is not one value's (thresholds given in
    /// code that do not fit together).
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// What is wrong, and what to write instead.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}={value:?}: {}", self.setting, self.problem),
            None => write!(f, "{}: {}", self.setting, self.problem),
        }
    }
}

impl StdError for ConfigError {}
