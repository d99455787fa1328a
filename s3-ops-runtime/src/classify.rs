//! Which failures are worth another attempt, and which tell the breaker that S3 is unwell.
//!
//! S3's error *code* decides first, then the HTTP status: S3 sends `RequestTimeout` as an HTTP
//! 400 (retry it) and may send `InternalError` inside an HTTP 200 (retry that too).

use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, DispatchFailure, SdkError};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ErrorKind;

/// How a failure is handled: retried or not, and what it tells the circuit breaker.
///
/// | class | retried | on the breaker (when final) |
/// |---|---|---|
/// | `Transient` | yes | failure |
/// | `Permanent` | no | failure |
/// | `Client` | no | success: S3 answered, so it is up |
/// | `Local` | no | nothing: the request never reached S3 |
/// | `CircuitOpen` | no | nothing |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// Throttling, a 5xx S3 documents as transient, a timeout, a connection failure.
    Transient,
    /// S3 (or the path to it) failed in a way another attempt will not fix: an unknown 5xx,
    /// an error without status.
    Permanent,
    /// S3 answered that the request is at fault: `NoSuchKey`, `AccessDenied`, any other 4xx.
    Client,
    /// The request never reached S3: no credentials, no region, invalid parameters, or a
    /// validation error of the caller's own.
    Local,
    /// An open circuit breaker refused the call.
    CircuitOpen,
}

impl ErrorClass {
    /// `true` when another attempt may succeed.
    pub fn is_retryable(self) -> bool {
        self == ErrorClass::Transient
    }

    /// What this failure, as a call's final outcome, records on the breaker.
    pub fn breaker_outcome(self) -> BreakerVerdict {
        match self {
            ErrorClass::Transient | ErrorClass::Permanent => BreakerVerdict::Failure,
            ErrorClass::Client => BreakerVerdict::Success,
            ErrorClass::Local | ErrorClass::CircuitOpen => BreakerVerdict::Nothing,
        }
    }
}

/// What a call's final failure tells the circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerVerdict {
    /// S3 is unwell: counts toward opening the circuit.
    Failure,
    /// S3 answered (the request was at fault): it is up.
    Success,
    /// Nothing about S3: the request never reached it, or was never sent.
    Nothing,
}

/// Errors the retry loop and the breaker can reason about.
///
/// Every annotated method's error type implements it. [`S3Error`](crate::S3Error) does; for an
/// error enum of your own, delegate to the S3 variant and classify your own variants (a
/// validation error is usually [`ErrorClass::Local`]).
///
/// ```
/// use s3_ops_runtime::{CircuitOpen, Classify, ErrorClass, S3Error};
///
/// enum StoreError {
///     TooLarge(usize),
///     S3(S3Error),
/// }
///
/// impl From<S3Error> for StoreError {
///     fn from(err: S3Error) -> Self {
///         StoreError::S3(err)
///     }
/// }
///
/// impl From<CircuitOpen> for StoreError {
///     fn from(open: CircuitOpen) -> Self {
///         StoreError::S3(open.into())
///     }
/// }
///
/// impl Classify for StoreError {
///     fn classify(&self) -> ErrorClass {
///         match self {
///             StoreError::TooLarge(_) => ErrorClass::Local,
///             StoreError::S3(err) => err.classify(),
///         }
///     }
///     fn retry_after(&self) -> Option<std::time::Duration> {
///         match self {
///             StoreError::S3(err) => err.retry_after(),
///             _ => None,
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be classified for retry and circuit breaking",
    label = "this error type does not implement `s3_ops_runtime::Classify`",
    note = "return `s3_ops_runtime::S3Error`, or implement `s3_ops_runtime::Classify` for `{Self}` (delegate S3 failures to `S3Error::classify`)"
)]
pub trait Classify {
    /// How this failure is handled.
    fn classify(&self) -> ErrorClass;

    /// A delay the server asked for (`x-amz-retry-after`, `Retry-After`), honoured by the retry
    /// loop up to its `max_delay`.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// The S3 error code, for the retry log lines.
    fn error_code(&self) -> Option<&str> {
        None
    }

    /// What kind of failure it was (`"dispatch"`, `"response"`, …), for the retry log lines
    /// when there is no S3 error code (a dropped connection, a body cut short).
    fn error_kind(&self) -> Option<&str> {
        None
    }
}

impl<E: Classify + ?Sized> Classify for Box<E> {
    fn classify(&self) -> ErrorClass {
        (**self).classify()
    }

    fn retry_after(&self) -> Option<Duration> {
        (**self).retry_after()
    }

    fn error_code(&self) -> Option<&str> {
        (**self).error_code()
    }

    fn error_kind(&self) -> Option<&str> {
        (**self).error_kind()
    }
}

/// Cleanup methods may return the SDK's error directly (they need no `From<CircuitOpen>`).
impl<E: ProvideErrorMetadata> Classify for SdkError<E, HttpResponse> {
    fn classify(&self) -> ErrorClass {
        match self {
            SdkError::ServiceError(service) => {
                classify_s3(service.err().code(), Some(service.raw().status().as_u16()))
            }
            SdkError::DispatchFailure(dispatch) => classify_dispatch(dispatch),
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => ErrorClass::Transient,
            SdkError::ConstructionFailure(_) => ErrorClass::Local,
            _ => ErrorClass::Permanent,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        self.raw_response().and_then(retry_after_header)
    }

    fn error_code(&self) -> Option<&str> {
        self.code()
    }

    fn error_kind(&self) -> Option<&str> {
        Some(match self {
            SdkError::ServiceError(_) => "service",
            SdkError::DispatchFailure(_) => "dispatch",
            SdkError::TimeoutError(_) => "timeout",
            SdkError::ResponseError(_) => "response",
            SdkError::ConstructionFailure(_) => "construction",
            _ => "unknown",
        })
    }
}

/// S3 error codes another attempt may cure: S3's throttling and transient codes, plus the
/// codes the AWS SDKs' standard retry strategy also retries.
pub const RETRYABLE_CODES: &[&str] = &[
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "ThrottlingException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    // The SDKs' standard strategy.
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "EC2ThrottledException",
    "LimitExceededException",
    // The SDK corrects its clock offset from this answer, so the next attempt is signed right.
    "RequestTimeTooSkewed",
];

/// S3 error codes that say the request is at fault, whatever the status.
pub const CLIENT_CODES: &[&str] = &[
    "NoSuchKey",
    "NoSuchBucket",
    "NoSuchUpload",
    "NoSuchVersion",
    "AccessDenied",
    "InvalidRequest",
    "InvalidArgument",
    "MalformedXML",
    "InvalidBucketName",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "EntityTooLarge",
    "EntityTooSmall",
    "KeyTooLongError",
    "InvalidRange",
    "PreconditionFailed",
    "NotModified",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "PermanentRedirect",
    "MethodNotAllowed",
];

/// HTTP statuses another attempt may cure, used when the code is not in either list.
pub const RETRYABLE_STATUSES: &[u16] = &[408, 429, 500, 502, 503, 504];

/// Classifies an S3 answer: code first, then HTTP status.
pub fn classify_s3(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    if let Some(code) = code {
        if RETRYABLE_CODES.contains(&code) {
            return ErrorClass::Transient;
        }
        if CLIENT_CODES.contains(&code) {
            return ErrorClass::Client;
        }
    }
    match status {
        Some(status) if RETRYABLE_STATUSES.contains(&status) => ErrorClass::Transient,
        // 3xx (a redirect to another region) and 4xx: the request must change.
        Some(300..=499) => ErrorClass::Client,
        _ => ErrorClass::Permanent,
    }
}

/// Classifies a request that got no answer.
///
/// I/O and timeouts are transient. So is a kind-less failure of the HTTP client itself (an
/// HTTP/2 protocol error, a hyper error the SDK does not recognise): the request may have
/// reached the network. `user` errors and the kind-less failures the SDK raises before sending
/// (no credentials, no endpoint) never reached S3.
pub(crate) fn classify_dispatch(dispatch: &DispatchFailure) -> ErrorClass {
    if dispatch.is_io() || dispatch.is_timeout() {
        return ErrorClass::Transient;
    }
    match dispatch.as_other() {
        Some(ErrorKind::TransientError | ErrorKind::ThrottlingError | ErrorKind::ServerError) => {
            ErrorClass::Transient
        }
        None if dispatch.is_other()
            && dispatch
                .as_connector_error()
                .is_some_and(reached_the_http_client) =>
        {
            ErrorClass::Transient
        }
        _ => ErrorClass::Local,
    }
}

/// `true` when the HTTP client had the request: it reports the connection it used, or the
/// failure comes from hyper, the SDK's HTTP client.
fn reached_the_http_client(err: &ConnectorError) -> bool {
    if err.connection_metadata().is_some() {
        return true;
    }
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = next {
        if err.is::<hyper::Error>() {
            return true;
        }
        next = err.source();
    }
    false
}

/// The server's suggested delay: `x-amz-retry-after` in milliseconds, else (or when that does
/// not parse) the standard `Retry-After` in seconds (the HTTP-date form is ignored).
pub(crate) fn retry_after_header(response: &HttpResponse) -> Option<Duration> {
    let headers = response.headers();
    let amz = headers
        .get("x-amz-retry-after")
        .and_then(|ms| ms.trim().parse::<u64>().ok())
        .map(Duration::from_millis);
    amz.or_else(|| {
        headers
            .get("retry-after")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    })
}
