// `retry = <expr>` takes the policy at run time: a field (with `&self` and with `&mut self`, whose
// body borrows `self` mutably), a `static`, an `Arc`, a value read through a lock guard, a
// cleanup, and with `timeout`; the futures stay `Send`.
#![deny(warnings, unused_qualifications)]

use std::sync::{Arc, RwLock};

use ::s3_ops_runtime::{s3_operation, CircuitBreaker, RetryPolicy, S3Error};
use s3_ops_ui_tests::{assert_send, client};

mod core {}
mod s3_ops_runtime {}

static CLEANUP_RETRY: RetryPolicy = RetryPolicy::NO_RETRY;

struct Service {
    client: aws_sdk_s3::Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
    upload_retry: RetryPolicy,
    download_retry: Arc<RetryPolicy>,
    tunable: RwLock<RetryPolicy>,
    puts: u32,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket, retry = self.upload_retry)]
    async fn put(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket, retry = self.upload_retry)]
    async fn put_counted(&mut self, key: &str) -> Result<u32, S3Error> {
        self.puts += 1;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(self.puts)
    }

    #[s3_operation(class = "download", op = "head_object", bucket = self.bucket, retry = self.download_retry, timeout = "2s")]
    async fn exists(&self, key: &str) -> Result<bool, S3Error> {
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(true)
    }

    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket, retry = *self.tunable.read().unwrap_or_else(std::sync::PoisonError::into_inner))]
    async fn get(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "cleanup", op = "delete_object", bucket = self.bucket, retry = CLEANUP_RETRY)]
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
    let mut service = Service {
        client: client(),
        bucket: "results".to_owned(),
        upload_circuit: CircuitBreaker::new("s3-upload"),
        download_circuit: CircuitBreaker::new("s3-download"),
        upload_retry: RetryPolicy::DEFAULT,
        download_retry: Arc::new(RetryPolicy::NO_RETRY),
        tunable: RwLock::new(RetryPolicy::DEFAULT),
        puts: 0,
    };
    assert_send(service.put("key"));
    assert_send(service.exists("key"));
    assert_send(service.get("key"));
    assert_send(service.delete("key"));
    assert_send(service.put_counted("key"));
}
