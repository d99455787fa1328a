// `timeout` and `deadline` compile with `S3Error` and with an error type of the user's own that
// implements `From<AttemptTimeout>`, and the future stays `Send`.
#![deny(warnings, unused_qualifications)]

use ::s3_ops_runtime::{
    s3_operation, AttemptTimeout, CircuitBreaker, CircuitOpen, Classify, ErrorClass, S3Error,
};
use s3_ops_ui_tests::{assert_send, client};

mod core {}
mod s3_ops_runtime {}

enum FetchError {
    Empty,
    S3(S3Error),
}

impl From<S3Error> for FetchError {
    fn from(err: S3Error) -> Self {
        FetchError::S3(err)
    }
}

impl From<CircuitOpen> for FetchError {
    fn from(open: CircuitOpen) -> Self {
        FetchError::S3(open.into())
    }
}

impl From<AttemptTimeout> for FetchError {
    fn from(timeout: AttemptTimeout) -> Self {
        FetchError::S3(timeout.into())
    }
}

impl Classify for FetchError {
    fn classify(&self) -> ErrorClass {
        match self {
            FetchError::Empty => ErrorClass::Client,
            FetchError::S3(err) => err.classify(),
        }
    }
}

struct Service {
    client: aws_sdk_s3::Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket, timeout = "5s")]
    async fn put(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(
        class = "download",
        op = "get_object",
        bucket = self.bucket,
        timeout = "250ms",
        deadline = "3s",
        max_attempts = 5,
        base_delay = "100ms",
        max_delay = "2s"
    )]
    async fn get_non_empty(&self, key: &str) -> Result<Vec<u8>, FetchError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(S3Error::from)?;
        let bytes = object.body.collect().await.map_err(S3Error::from)?.to_vec();
        if bytes.is_empty() {
            return Err(FetchError::Empty);
        }
        Ok(bytes)
    }

    #[s3_operation(class = "cleanup", op = "delete_object", bucket = self.bucket, deadline = "1m")]
    async fn delete(&self, key: &str) -> Result<(), S3Error> {
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
    assert_send(service.put("key"));
    assert_send(service.get_non_empty("key"));
    assert_send(service.delete("key"));
}
