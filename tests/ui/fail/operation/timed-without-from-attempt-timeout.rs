// An `Operation` with a timeout or a deadline asks its error type for `From<AttemptTimeout>`
// (without one it does not: `pass/operation.rs`).
use std::time::Duration;

use s3_ops_runtime::operation::TimeLimited;
use s3_ops_runtime::{CircuitBreaker, CircuitOpen, Classify, ErrorClass, Operation, OperationClass};
use s3_ops_runtime::{RetryPolicy, S3Error};

enum UploadError {
    S3(S3Error),
}

impl From<CircuitOpen> for UploadError {
    fn from(open: CircuitOpen) -> Self {
        UploadError::S3(open.into())
    }
}

impl Classify for UploadError {
    fn classify(&self) -> ErrorClass {
        match self {
            UploadError::S3(err) => err.classify(),
        }
    }
}

static PUT: Operation<TimeLimited> =
    Operation::with_policy(OperationClass::Upload, "put_object", RetryPolicy::DEFAULT)
        .with_timeout(Duration::from_secs(5));

async fn put(circuit: &CircuitBreaker) -> Result<(), UploadError> {
    PUT.run(circuit, "results", || async { Ok(()) }).await
}

fn main() {
    drop(put(&CircuitBreaker::new("s3-upload")));
}
