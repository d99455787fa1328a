// No early exit: an unlabeled block. A circuit of its own and a retry policy of its own.
#[s3_operation(
    class = "download",
    op = "head_object",
    circuit = self.breakers.metadata,
    max_attempts = 5,
    base_delay = "100ms",
    max_delay = "2s"
)]
async fn content_length(&self, key: &str) -> Result<i64, S3Error> {
    let request = self.client.head_object().bucket(&self.bucket).key(key);
    request
        .send()
        .await
        .map(|head| head.content_length().unwrap_or_default())
        .map_err(S3Error::from)
}
