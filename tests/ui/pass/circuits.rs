// The breaker can be any place expression: a `static` `LazyLock` for a free function
// (`circuit = *SHARED`), another field, a field of a field; default fields otherwise.
#![deny(warnings, unused_qualifications)]

use std::sync::LazyLock;

use ::s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
use s3_ops_ui_tests::{assert_send, client};

mod core {}
mod s3_ops_runtime {}

static SHARED: LazyLock<CircuitBreaker> = LazyLock::new(|| CircuitBreaker::new("s3-shared"));

#[s3_operation(class = "upload", op = "put_object", bucket = bucket, circuit = *SHARED)]
async fn upload(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), S3Error> {
    client.put_object().bucket(bucket).key(key).send().await?;
    Ok(())
}

struct Breakers {
    archive: CircuitBreaker,
}

struct Service {
    client: aws_sdk_s3::Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
    listing_circuit: CircuitBreaker,
    breakers: Breakers,
}

impl Service {
    #[s3_operation(class = "upload", op = "copy_object", bucket = self.bucket)]
    async fn copy(&self, from: &str, to: &str) -> Result<(), S3Error> {
        let source = format!("{}/{from}", self.bucket);
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(source)
            .key(to)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket)]
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
        op = "list_objects_v2",
        bucket = self.bucket,
        circuit = self.listing_circuit
    )]
    async fn count(&self) -> Result<i32, S3Error> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await?;
        Ok(page.key_count().unwrap_or_default())
    }

    #[s3_operation(
        class = "upload",
        op = "put_object",
        bucket = self.bucket,
        circuit = self.breakers.archive
    )]
    async fn archive(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket, circuit = *SHARED)]
    async fn put_shared(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let client = client();
    assert_send(upload(&client, "results", "key"));
    let service = Service {
        client,
        bucket: "results".to_owned(),
        upload_circuit: CircuitBreaker::new("s3-upload"),
        download_circuit: CircuitBreaker::new("s3-download"),
        listing_circuit: CircuitBreaker::new("s3-listing"),
        breakers: Breakers {
            archive: CircuitBreaker::new("s3-archive"),
        },
    };
    assert_send(service.copy("a", "b"));
    assert_send(service.get("key"));
    assert_send(service.count());
    assert_send(service.archive("key"));
    assert_send(service.put_shared("key"));
}
