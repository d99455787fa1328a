//! A small annotated service for the scenarios the example's services do not fit: a backoff of
//! 10 ms instead of the original recipe's 1 s (the tests go through real sockets, so paused time is not an
//! option), a download with a single attempt, and breakers with a short open timeout.
//!
//! It calls `put_object` and `get_object` only; see `main.rs` for why no other test may use
//! the operation of the metrics test.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use std::path::Path;

use s3_ops_runtime::{
    s3_operation, BreakerConfig, CircuitBreaker, CircuitState, S3Error, S3ErrorKind,
};

/// Objects of one bucket, written and read whole, behind `{bucket}-upload` and
/// `{bucket}-download` breakers.
pub(crate) struct Objects {
    client: Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl Objects {
    /// A service over `bucket` whose two breakers have `config`.
    pub(crate) fn new(client: Client, bucket: &str, config: BreakerConfig) -> Self {
        Self {
            client,
            bucket: bucket.to_owned(),
            upload_circuit: CircuitBreaker::with_config(format!("{bucket}-upload"), config.clone()),
            download_circuit: CircuitBreaker::with_config(format!("{bucket}-download"), config),
        }
    }

    /// The breaker of [`put`](Self::put).
    pub(crate) fn upload_circuit(&self) -> &CircuitBreaker {
        &self.upload_circuit
    }

    /// The breaker of [`get`](Self::get) and [`get_once`](Self::get_once).
    pub(crate) fn download_circuit(&self) -> &CircuitBreaker {
        &self.download_circuit
    }

    /// Writes `body` at `key`: 3 attempts, 10 ms then 20 ms backoff (jittered).
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket, base_delay = "10ms", max_delay = "40ms")]
    pub(crate) async fn put(&self, key: &str, body: &[u8]) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await?;
        Ok(())
    }

    /// Writes the file at `path` at `key`, streamed: the SDK sends a body it cannot hold in
    /// memory as `aws-chunked` with a trailing checksum, unless the client computes checksums
    /// only when required (which Ceph RGW needs). Each attempt opens the file again.
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket, base_delay = "10ms", max_delay = "40ms")]
    pub(crate) async fn put_file(&self, key: &str, path: &Path) -> Result<(), S3Error> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|err| S3Error::from_source(S3ErrorKind::Construction, err))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body)
            .send()
            .await?;
        Ok(())
    }

    /// Reads `key` whole, the body inside the retried call: 3 attempts, 10 ms backoff.
    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket, base_delay = "10ms", max_delay = "40ms")]
    pub(crate) async fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(object.body.collect().await?.to_vec())
    }

    /// Reads `key` whole in a single attempt.
    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket, max_attempts = 1)]
    pub(crate) async fn get_once(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(object.body.collect().await?.to_vec())
    }
}

/// Waits (real time, the server is on real sockets) until `circuit` reads `state`.
///
/// # Panics
///
/// After 10 s: far beyond any open timeout of these tests, so it only catches a breaker that
/// never gets there.
pub(crate) async fn wait_for_state(circuit: &CircuitBreaker, state: CircuitState) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while circuit.state() != state {
        assert!(
            tokio::time::Instant::now() < deadline,
            "circuit {} stayed {:?}, never {state:?}",
            circuit.name(),
            circuit.state()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Waits until `count()` reaches `n`, e.g. until a request is known to be at the server.
///
/// # Panics
///
/// After 10 s.
pub(crate) async fn wait_until(what: &str, mut count: impl FnMut() -> u64, n: u64) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = count();
        if now >= n {
            assert_eq!(now, n, "{what}: overshot");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {now}, never {n}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}
