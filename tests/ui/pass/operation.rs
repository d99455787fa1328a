// The closure API asks for `From<AttemptTimeout>` only when the operation has a timeout or a
// deadline (`fail/operation/timed-without-from-attempt-timeout.rs`).
use std::time::Duration;

use s3_ops_runtime::operation::TimeLimited;
use s3_ops_runtime::{CircuitBreaker, CircuitOpen, Classify, ErrorClass, Operation, OperationClass};
use s3_ops_runtime::{RetryPolicy, S3Error};
use s3_ops_ui_tests::assert_send;

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

static PUT: Operation = Operation::new(OperationClass::Upload, "put_object");
static DELETE: Operation = Operation::new(OperationClass::Cleanup, "delete_object");
static GET: Operation<TimeLimited> =
    Operation::with_policy(OperationClass::Download, "get_object", RetryPolicy::DEFAULT)
        .with_timeout(Duration::from_secs(2))
        .with_deadline(Duration::from_secs(5));

async fn put(circuit: &CircuitBreaker) -> Result<(), UploadError> {
    PUT.run(circuit, "results", || async { Ok(()) }).await
}

async fn delete() -> Result<(), UploadError> {
    DELETE
        .run_without_breaker("results", || async { Ok(()) })
        .await
}

async fn get(circuit: &CircuitBreaker) -> Result<usize, S3Error> {
    GET.run(circuit, "results", || async { Ok(3) }).await
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let circuit = CircuitBreaker::new("s3-operation-pass");
    assert_send(put(&circuit));
    assert_send(delete());
    assert_send(get(&circuit));
}
