// Methods of traits compile warning-free and their futures are `Send` for a concrete type:
// an implementation of a native `async fn` in a trait, and a default method of a trait.
#![deny(warnings, unused_qualifications)]

use ::s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
use s3_ops_ui_tests::{assert_send, client};

mod core {}
mod s3_ops_runtime {}

trait ObjectStore {
    async fn put(&self, key: &str, body: &[u8]) -> Result<(), S3Error>;

    fn client(&self) -> &aws_sdk_s3::Client;
    fn bucket(&self) -> &str;
    fn download_circuit(&self) -> &CircuitBreaker;

    // A default method reaches its breaker through the trait: there is no field to default to.
    #[s3_operation(
        class = "download",
        op = "get_object",
        bucket = self.bucket(),
        circuit = self.download_circuit()
    )]
    async fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let object = self
            .client()
            .get_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await?;
        Ok(object.body.collect().await?.to_vec())
    }
}

struct Service {
    client: aws_sdk_s3::Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl ObjectStore for Service {
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn put(&self, key: &str, body: &[u8]) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await?;
        Ok(())
    }

    fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn download_circuit(&self) -> &CircuitBreaker {
        &self.download_circuit
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
    assert_send(service.put("key", b"body"));
    assert_send(service.get("key"));
}
