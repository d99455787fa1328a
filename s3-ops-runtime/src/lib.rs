//! Resilient S3 calls by declaration.
//!
//! Annotate a service method with [`#[s3_operation]`](s3_operation) and it gets what a careful
//! engineer writes by hand around every S3 call: a [circuit breaker](CircuitBreaker) check that
//! fails fast while S3 is down, exponential-backoff [retry] of transient errors only
//! ([classified](Classify) by S3 error code, then HTTP status), one outcome recorded on the
//! breaker per call, and Prometheus [metrics]. Best-effort cleanup has no breaker, and the
//! compiler enforces it.
//!
//! ```no_run
//! use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
//!
//! pub struct StorageService {
//!     client: aws_sdk_s3::Client,
//!     results_bucket: String,
//!     upload_circuit: CircuitBreaker,
//!     download_circuit: CircuitBreaker,
//! }
//!
//! impl StorageService {
//!     #[s3_operation(class = "upload", op = "put_object", bucket = self.results_bucket)]
//!     pub async fn upload_result(&self, job_id: &str, content: &str) -> Result<String, S3Error> {
//!         let key = format!("{job_id}.md");
//!         self.client
//!             .put_object()
//!             .bucket(&self.results_bucket)
//!             .key(&key)
//!             .body(content.as_bytes().to_vec().into())
//!             .send()
//!             .await?;
//!         Ok(key)
//!     }
//! }
//! ```
//!
//! The SDK's own retries multiply with these: configure the client with
//! [`client::configure`] (feature `aws-sdk-s3`).
//!
//! # Where to read on
//!
//! - [`#[s3_operation]`](s3_operation): the arguments, the classes, what one call does, your own
//!   error type, and the code the attribute stands for.
//! - [`CircuitBreaker`] and [`BreakerConfig`]: thresholds, states, manual control.
//! - [`Classify`]: which failures are retried and which trip the breaker; for an error type of
//!   your own.
//! - [`retry::RetryPolicy`]: the backoff.
//! - [`metrics`]: the Prometheus series; [`metrics::register`] puts them in your own registry.
//! - [`client::configure`]: an `aws_sdk_s3` client with the SDK's retries off.
//! - [`Operation`]: the same call around a closure, where a method cannot be annotated.
//!
//! # Features
//!
//! - `aws-sdk-s3`: [`client::configure`], an `aws_sdk_s3` client set up for s3-ops.
//! - `metrics-server`: `metrics::MetricsServer`, `GET /metrics` on an address you choose.
//! - `serde`: `Deserialize` for [`BreakerConfig`], [`FailureRate`] and [`RetryPolicy`], with
//!   durations written `"250ms"` (they also read the environment without it:
//!   [`BreakerConfig::from_env`], [`RetryPolicy::from_env`]).

#![warn(missing_docs)]
// docs.rs builds with `--cfg docsrs` on nightly: feature-gated items get an "Available on crate
// feature … only" badge. Stable builds never see the unstable feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod breaker;
mod call;
pub mod classify;
#[cfg(feature = "aws-sdk-s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk-s3")))]
pub mod client;
mod config;
mod error;
pub mod metrics;
pub mod operation;
pub mod retry;
mod sync;

#[doc(hidden)]
pub mod __private;

pub use breaker::{
    BreakerConfig, BreakerOverride, BreakerStats, CircuitBreaker, CircuitState, FailureRate, Permit,
};
pub use classify::{classify_s3, BreakerVerdict, Classify, ErrorClass};
pub use config::ConfigError;
pub use error::{AttemptTimeout, CircuitOpen, S3Error, S3ErrorKind};
pub use operation::{Operation, OperationClass};
pub use retry::RetryPolicy;

#[doc = include_str!("s3_operation.md")]
pub use s3_ops_macros::s3_operation;
