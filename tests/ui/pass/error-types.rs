// Error types other than `S3Error`: an enum of the user's own implementing
// `From<CircuitOpen>` + `Classify`, a `Result` alias, and a cleanup returning the SDK's
// `SdkError<DeleteObjectError>` directly (cleanup needs `Classify` only).
#![deny(warnings, unused_qualifications)]

use std::fmt;

use ::s3_ops_runtime::{s3_operation, CircuitBreaker, CircuitOpen, Classify, ErrorClass, S3Error};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::delete_object::DeleteObjectError;
use s3_ops_ui_tests::{assert_send, client};

mod core {}
mod s3_ops_runtime {}

#[derive(Debug)]
enum StoreError {
    TooLarge(usize),
    S3(S3Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::TooLarge(len) => write!(f, "{len} bytes is too large"),
            StoreError::S3(err) => fmt::Display::fmt(err, f),
        }
    }
}

impl From<S3Error> for StoreError {
    fn from(err: S3Error) -> Self {
        StoreError::S3(err)
    }
}

impl From<CircuitOpen> for StoreError {
    fn from(open: CircuitOpen) -> Self {
        StoreError::S3(open.into())
    }
}

impl Classify for StoreError {
    fn classify(&self) -> ErrorClass {
        match self {
            StoreError::TooLarge(_) => ErrorClass::Local,
            StoreError::S3(err) => err.classify(),
        }
    }
}

type S3Result<T> = Result<T, S3Error>;

struct Service {
    client: aws_sdk_s3::Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn put_small(&self, key: &str, body: &[u8]) -> Result<(), StoreError> {
        if body.len() > 1024 {
            return Err(StoreError::TooLarge(body.len()));
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .map_err(S3Error::from)?;
        Ok(())
    }

    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket)]
    async fn get(&self, key: &str) -> S3Result<Vec<u8>> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(object.body.collect().await?.to_vec())
    }

    #[s3_operation(class = "cleanup", op = "delete_object", bucket = self.bucket)]
    async fn delete(&self, key: &str) -> Result<(), SdkError<DeleteObjectError>> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let service = Service {
        client: client(),
        bucket: "results".to_owned(),
        upload_circuit: CircuitBreaker::new("s3-upload"),
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    assert_send(service.put_small("key", b"body"));
    assert_send(service.get("key"));
    assert_send(service.delete("key"));
}
