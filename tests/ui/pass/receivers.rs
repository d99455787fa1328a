// Every receiver an annotated method can take compiles warning-free, and its future is `Send`:
// `&self`, `&mut self` (the body calls another `&mut self` method), `self: Arc<Self>`,
// `self: &Arc<Self>`, `self: Pin<&mut Self>`, `self`; and a `mut` parameter the body changes.
#![deny(warnings, unused_qualifications)]

use std::pin::Pin;
use std::sync::Arc;

use ::s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
use s3_ops_ui_tests::{assert_send, client};

// The expansion must reach `core` and the runtime by absolute path: these would capture
// `core::…` and `s3_ops_runtime::…`.
mod core {}
mod s3_ops_runtime {}

struct Service {
    client: aws_sdk_s3::Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
    uploaded: u32,
}

impl Service {
    fn new() -> Self {
        Self {
            client: client(),
            bucket: "results".to_owned(),
            upload_circuit: CircuitBreaker::new("s3-upload"),
            download_circuit: CircuitBreaker::new("s3-download"),
            uploaded: 0,
        }
    }

    #[s3_operation(class = "download", op = "head_object", bucket = self.bucket)]
    async fn size(&self, key: &str) -> Result<Option<i64>, S3Error> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(head.content_length())
    }

    async fn next_key(&mut self) -> String {
        self.uploaded += 1;
        format!("part-{}", self.uploaded)
    }

    // The body borrows `self` mutably for one attempt at a time: the expansion holds no borrow
    // of `self.upload_circuit` across it.
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn upload_next(&mut self, body: &[u8]) -> Result<String, S3Error> {
        let key = self.next_key().await;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(body.to_vec().into())
            .send()
            .await?;
        Ok(key)
    }

    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket)]
    async fn download_shared(self: Arc<Self>, key: String) -> Result<Vec<u8>, S3Error> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await?;
        Ok(object.body.collect().await?.to_vec())
    }

    #[s3_operation(class = "download", op = "head_bucket", bucket = self.bucket)]
    async fn reachable(self: &Arc<Self>) -> Result<(), S3Error> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn upload_pinned(mut self: Pin<&mut Self>, body: &[u8]) -> Result<String, S3Error> {
        let key = self.as_mut().next_key().await;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(body.to_vec().into())
            .send()
            .await?;
        Ok(key)
    }

    // The parameter is the future's: each attempt sees the previous attempt's changes.
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn upload_numbered(&self, mut attempt: u32) -> Result<u32, S3Error> {
        attempt += 1;
        let key = format!("attempt-{attempt}");
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(attempt)
    }

    #[s3_operation(class = "download", op = "list_objects_v2", bucket = self.bucket)]
    async fn into_key_count(self) -> Result<i32, S3Error> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await?;
        Ok(page.key_count().unwrap_or_default())
    }
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let mut service = Service::new();
    assert_send(service.size("key"));
    assert_send(service.upload_next(b"body"));
    assert_send(service.upload_numbered(0));
    assert_send(Pin::new(&mut service).upload_pinned(b"body"));
    let shared = Arc::new(Service::new());
    assert_send(shared.reachable());
    assert_send(shared.download_shared("key".to_owned()));
    assert_send(Service::new().into_key_count());
}
