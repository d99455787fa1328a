//! An `aws_sdk_s3` client configured for s3-ops (feature `aws-sdk-s3`).
//!
//! The SDK retries on its own, three attempts by default. Under s3-ops' retry loop that would
//! make up to nine requests per call, stretch the backoff the breaker and the metrics see, and
//! make `s3_retry_attempts_total` lie. [`configure`] turns the SDK's retries off and gives each
//! attempt a time limit, so the SDK sends one request per attempt and s3-ops decides the rest.
//!
//! ```no_run
//! # async fn example(sdk_config: aws_sdk_s3::config::Builder) {
//! use std::time::Duration;
//! use s3_ops_runtime::client::{configure, ClientOptions};
//!
//! let config = configure(
//!     sdk_config,
//!     &ClientOptions::new()
//!         .attempt_timeout(Duration::from_secs(10))
//!         // Ceph RGW, Garage: refuse streamed bodies sent aws-chunked with a checksum.
//!         .checksums_when_required(true),
//! )
//! .build();
//! let client = aws_sdk_s3::Client::from_conf(config);
//! # }
//! ```

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Builder, RequestChecksumCalculation, ResponseChecksumValidation};

/// How [`configure`] sets up the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    attempt_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    checksums_when_required: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientOptions {
    /// SDK retries off, 30 s per attempt, 3 s to connect, default checksums.
    pub fn new() -> Self {
        Self {
            attempt_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Some(Duration::from_secs(3)),
            checksums_when_required: false,
        }
    }

    /// The SDK's limit on one attempt (request sent, answer read); past it the attempt fails
    /// with a timeout, which s3-ops retries. `None` leaves it unlimited.
    pub fn attempt_timeout(mut self, limit: impl Into<Option<Duration>>) -> Self {
        self.attempt_timeout = limit.into();
        self
    }

    /// The limit on opening a connection. `None` leaves the SDK's default.
    pub fn connect_timeout(mut self, limit: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = limit.into();
        self
    }

    /// Computes and validates checksums only where the operation requires them. The SDK
    /// otherwise sends a streamed body (`ByteStream::from_path`, a body of unknown length) as
    /// `aws-chunked` with a trailing checksum, which S3-compatible stores such as Ceph RGW and
    /// Garage answer with HTTP 400 `XAmzContentSHA256Mismatch`; this sends it plain. Ceph RGW
    /// accepted bodies held in memory either way when this was tested: streamed ones are what
    /// it refuses.
    pub fn checksums_when_required(mut self, yes: bool) -> Self {
        self.checksums_when_required = yes;
        self
    }
}

/// Applies `options` to an `aws_sdk_s3` config builder: SDK retries disabled, attempt and
/// connect timeouts, and optionally checksums only when required.
///
/// Start from the builder you would otherwise build the client from; with `aws-config`, that is
/// `aws_sdk_s3::config::Builder::from(&sdk_config)`. Here, a client of an S3-compatible server:
///
/// ```
/// use std::time::Duration;
/// use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
/// use s3_ops_runtime::client::{configure, ClientOptions};
///
/// let builder = aws_sdk_s3::Config::builder()
///     .behavior_version(BehaviorVersion::latest())
///     .region(Region::new("us-east-1"))
///     .credentials_provider(Credentials::new("access-key", "secret-key", None, None, "example"))
///     .endpoint_url("http://127.0.0.1:9000")
///     .force_path_style(true);
/// let options = ClientOptions::new().attempt_timeout(Duration::from_secs(5));
/// let config = configure(builder, &options).build();
///
/// // One request per attempt: s3-ops retries, the SDK does not.
/// assert_eq!(config.retry_config().map(|retry| retry.max_attempts()), Some(1));
/// let timeouts = config.timeout_config().unwrap();
/// assert_eq!(timeouts.operation_attempt_timeout(), Some(Duration::from_secs(5)));
/// let client = aws_sdk_s3::Client::from_conf(config);
/// # drop(client);
/// ```
pub fn configure(builder: Builder, options: &ClientOptions) -> Builder {
    let mut timeouts = TimeoutConfig::builder();
    if let Some(limit) = options.attempt_timeout {
        timeouts = timeouts.operation_attempt_timeout(limit);
    }
    if let Some(limit) = options.connect_timeout {
        timeouts = timeouts.connect_timeout(limit);
    }
    let mut builder = builder
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts.build());
    if options.checksums_when_required {
        builder = builder
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    builder
}
