// `bucket` takes any expression that borrows as `&str`: a `&str` parameter, a `String` field,
// a literal, a `Box<str>`, a `Cow<str>` and a method call; and it may be left out.
#![deny(warnings, unused_qualifications)]

use std::borrow::Cow;

use ::s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
use s3_ops_ui_tests::{assert_send, client};

mod core {}
mod s3_ops_runtime {}

struct Service {
    client: aws_sdk_s3::Client,
    bucket: String,
    archive: Box<str>,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl Service {
    fn logs_bucket(&self) -> &str {
        "logs"
    }

    #[s3_operation(class = "upload", op = "put_object", bucket = bucket)]
    async fn put_into(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn put(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "download", op = "head_bucket", bucket = "static-assets")]
    async fn assets_reachable(&self) -> Result<(), S3Error> {
        self.client
            .head_bucket()
            .bucket("static-assets")
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "upload", op = "put_object", bucket = self.archive)]
    async fn archive(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(&*self.archive)
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "download", op = "get_object", bucket = bucket)]
    async fn get_from(&self, bucket: Cow<'_, str>, key: &str) -> Result<Vec<u8>, S3Error> {
        let object = self
            .client
            .get_object()
            .bucket(&*bucket)
            .key(key)
            .send()
            .await?;
        Ok(object.body.collect().await?.to_vec())
    }

    #[s3_operation(class = "cleanup", op = "delete_object", bucket = self.logs_bucket())]
    async fn delete_log(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .delete_object()
            .bucket(self.logs_bucket())
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    // Without `bucket`, the `bucket` label is empty.
    #[s3_operation(class = "download", op = "list_buckets")]
    async fn bucket_count(&self) -> Result<usize, S3Error> {
        let buckets = self.client.list_buckets().send().await?;
        Ok(buckets.buckets().len())
    }
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let service = Service {
        client: client(),
        bucket: "results".to_owned(),
        archive: "archive".into(),
        upload_circuit: CircuitBreaker::new("s3-upload"),
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    assert_send(service.put_into("results", "key"));
    assert_send(service.put("key"));
    assert_send(service.assets_reachable());
    assert_send(service.archive("key"));
    assert_send(service.get_from(Cow::Borrowed("results"), "key"));
    assert_send(service.get_from(Cow::Owned("results".to_owned()), "key"));
    assert_send(service.delete_log("key"));
    assert_send(service.bucket_count());
}
