// `hedge` compiles for downloads with a fixed delay or a percentile, alone or with `timeout`,
// `deadline` and `retry = <expr>`, with `S3Error` or an error type of the user's own, for a
// body that borrows its arguments and uses `?` and `return`; the future stays `Send`.
#![deny(warnings, unused_qualifications)]

use ::s3_ops_runtime::retry::RetryPolicy;
use ::s3_ops_runtime::{
    s3_operation, AttemptTimeout, CircuitBreaker, CircuitOpen, Classify, ErrorClass, S3Error,
};
use s3_ops_ui_tests::{assert_send, client};

mod core {}
mod s3_ops_runtime {}

enum ReadError {
    Empty,
    S3(S3Error),
}

impl From<S3Error> for ReadError {
    fn from(err: S3Error) -> Self {
        ReadError::S3(err)
    }
}

impl From<CircuitOpen> for ReadError {
    fn from(open: CircuitOpen) -> Self {
        ReadError::S3(open.into())
    }
}

impl From<AttemptTimeout> for ReadError {
    fn from(timeout: AttemptTimeout) -> Self {
        ReadError::S3(timeout.into())
    }
}

impl Classify for ReadError {
    fn classify(&self) -> ErrorClass {
        match self {
            ReadError::Empty => ErrorClass::Client,
            ReadError::S3(err) => err.classify(),
        }
    }
}

struct Service {
    client: aws_sdk_s3::Client,
    bucket: String,
    read_retry: RetryPolicy,
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket, hedge = "p95")]
    async fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(object.body.collect().await?.to_vec())
    }

    #[s3_operation(
        class = "download",
        op = "get_object",
        bucket = self.bucket,
        hedge = "40ms",
        timeout = "2s",
        deadline = "10s",
        retry = self.read_retry
    )]
    async fn get_non_empty(&self, key: &str, range: Option<&str>) -> Result<Vec<u8>, ReadError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range.map(str::to_owned))
            .send()
            .await
            .map_err(S3Error::from)?;
        let bytes = object.body.collect().await.map_err(S3Error::from)?.to_vec();
        if bytes.is_empty() {
            return Err(ReadError::Empty);
        }
        Ok(bytes)
    }

    #[s3_operation(class = "download", op = "head_object", bucket = "results", hedge = "p99.9")]
    async fn exists(&self, key: String) -> Result<bool, S3Error> {
        let head = self.client.head_object().bucket("results").key(&key).send().await;
        Ok(head.is_ok())
    }
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let service = Service {
        client: client(),
        bucket: "results".to_owned(),
        read_retry: RetryPolicy::DEFAULT,
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    assert_send(service.get("key"));
    assert_send(service.get_non_empty("key", Some("bytes=0-99")));
    assert_send(service.exists("key".to_owned()));
}
