//! The storage service's error type: its own validation failures next to S3's.
//!
//! [`StorageError`] is what every [`StorageService`](crate::StorageService) method returns,
//! annotated or not. The attribute needs two things of it: `From<CircuitOpen>` (an open
//! breaker refuses the call) and [`Classify`] (retry or not, and what the breaker records).
//! Validation failures are [`ErrorClass::Local`]: the request never reached S3, so they are
//! never retried and tell the breaker nothing.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStreamError;
use s3_ops_runtime::{AttemptTimeout, CircuitOpen, Classify, ErrorClass, S3Error};

/// An input the service refuses before making any S3 request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidationError {
    /// The document is not a PDF.
    ContentType {
        /// The content type given.
        found: String,
    },
    /// The document is smaller than the service's minimum; an empty or truncated upload.
    TooSmall {
        /// Its size in bytes.
        size: usize,
        /// The minimum.
        min: usize,
    },
    /// The document is larger than the service's maximum.
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The maximum.
        max: usize,
    },
    /// A job id that cannot be part of an object key.
    JobId {
        /// The id given.
        job_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An image file name that cannot be the last segment of an object key.
    FileName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationError::ContentType { found } => write!(
                f,
                "content type `{found}` is not accepted: documents must be `{}`",
                crate::validate::PDF_CONTENT_TYPE
            ),
            ValidationError::TooSmall { size, min } => {
                write!(
                    f,
                    "document of {size} bytes is below the minimum of {min} bytes"
                )
            }
            ValidationError::TooLarge { size, max } => {
                write!(
                    f,
                    "document of {size} bytes exceeds the maximum of {max} bytes"
                )
            }
            ValidationError::JobId { job_id, reason } => {
                write!(f, "invalid job id {job_id:?}: {reason}")
            }
            ValidationError::FileName { name, reason } => {
                write!(f, "invalid file name {name:?}: {reason}")
            }
        }
    }
}

impl StdError for ValidationError {}

/// The error of a [`StorageService`](crate::StorageService) call.
#[derive(Debug)]
pub enum StorageError {
    /// The input was refused before any S3 request: classified [`ErrorClass::Local`].
    Validation(ValidationError),
    /// The S3 call failed, or an open circuit refused it ([`StorageError::is_circuit_open`]).
    S3(S3Error),
}

impl StorageError {
    /// `true` when an open circuit breaker refused the call: no request was sent.
    pub fn is_circuit_open(&self) -> bool {
        self.as_s3().is_some_and(S3Error::is_circuit_open)
    }

    /// The S3 failure, if this is one.
    pub fn as_s3(&self) -> Option<&S3Error> {
        match self {
            StorageError::S3(err) => Some(err),
            StorageError::Validation(_) => None,
        }
    }

    /// The validation failure, if this is one.
    pub fn as_validation(&self) -> Option<&ValidationError> {
        match self {
            StorageError::Validation(err) => Some(err),
            StorageError::S3(_) => None,
        }
    }
}

impl Classify for StorageError {
    fn classify(&self) -> ErrorClass {
        match self {
            StorageError::Validation(_) => ErrorClass::Local,
            StorageError::S3(err) => err.classify(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        self.as_s3().and_then(Classify::retry_after)
    }

    fn error_code(&self) -> Option<&str> {
        self.as_s3().and_then(S3Error::code)
    }

    fn error_kind(&self) -> Option<&str> {
        match self {
            StorageError::Validation(_) => Some("validation"),
            StorageError::S3(err) => err.error_kind(),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Validation(err) => err.fmt(f),
            StorageError::S3(err) => err.fmt(f),
        }
    }
}

impl StdError for StorageError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            // `Display` already prints the wrapped error; its source is the next link.
            StorageError::Validation(err) => err.source(),
            StorageError::S3(err) => err.source(),
        }
    }
}

impl From<ValidationError> for StorageError {
    fn from(err: ValidationError) -> Self {
        StorageError::Validation(err)
    }
}

impl From<S3Error> for StorageError {
    fn from(err: S3Error) -> Self {
        StorageError::S3(err)
    }
}

/// Needed by the attribute on upload and download methods.
impl From<CircuitOpen> for StorageError {
    fn from(open: CircuitOpen) -> Self {
        StorageError::S3(open.into())
    }
}

/// Needed by the attribute when a method has a `timeout` argument.
impl From<AttemptTimeout> for StorageError {
    fn from(timeout: AttemptTimeout) -> Self {
        StorageError::S3(timeout.into())
    }
}

/// `?` on any `aws_sdk_s3` operation's `send()`.
impl<E> From<SdkError<E>> for StorageError
where
    S3Error: From<SdkError<E>>,
{
    fn from(err: SdkError<E>) -> Self {
        StorageError::S3(err.into())
    }
}

/// `?` on `body.collect()`: a body cut short is a transient failure, retried.
impl From<ByteStreamError> for StorageError {
    fn from(err: ByteStreamError) -> Self {
        StorageError::S3(err.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3_ops_runtime::CircuitBreaker;

    #[test]
    fn validation_is_local_so_never_retried_and_never_on_the_breaker() {
        let err = StorageError::from(ValidationError::TooSmall { size: 3, min: 100 });
        assert_eq!(err.classify(), ErrorClass::Local);
        assert!(!err.classify().is_retryable());
        assert_eq!(
            err.classify().breaker_outcome(),
            s3_ops_runtime::BreakerVerdict::Nothing
        );
        assert!(!err.is_circuit_open());
        assert!(err.as_validation().is_some());
        assert_eq!(
            err.to_string(),
            "document of 3 bytes is below the minimum of 100 bytes"
        );
    }

    #[test]
    fn s3_failures_keep_their_classification() {
        let slow = StorageError::from(S3Error::service("SlowDown", Some(503)));
        assert_eq!(slow.classify(), ErrorClass::Transient);
        assert_eq!(slow.error_code(), Some("SlowDown"));
        let missing = StorageError::from(S3Error::service("NoSuchKey", Some(404)));
        assert_eq!(missing.classify(), ErrorClass::Client);
    }

    #[tokio::test]
    async fn circuit_open_converts_and_is_recognised() {
        let circuit = CircuitBreaker::new("error-rs-test");
        circuit.force_open();
        let refused = circuit.acquire().unwrap_err();
        let err = StorageError::from(refused);
        assert!(err.is_circuit_open());
        assert_eq!(err.classify(), ErrorClass::CircuitOpen);
    }
}
