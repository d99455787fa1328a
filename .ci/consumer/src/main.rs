//! A user's project outside the s3-ops workspace: the packaged crates, aws-sdk-s3 with its default
//! features, and a small `StorageService` run against the S3 server at
//! `S3_OPS_CONSUMER_ENDPOINT` (moto in CI). It uploads and downloads, has a refused connection
//! retried, and lets an outage open the breaker, which then refuses calls without a request.
//! Every check panics when it fails, so the process exits non-zero.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use s3_ops_runtime::client::{ClientOptions, configure};
use s3_ops_runtime::metrics::{self, MetricsServer, OperationResult};
use s3_ops_runtime::{
    BreakerConfig, CircuitBreaker, CircuitState, Classify, ErrorClass, S3Error, s3_operation,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BUCKET: &str = "s3-ops-consumer";

pub struct StorageService {
    client: aws_sdk_s3::Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl StorageService {
    fn new(client: aws_sdk_s3::Client, name: &str, config: BreakerConfig) -> Self {
        Self {
            client,
            bucket: BUCKET.to_owned(),
            upload_circuit: CircuitBreaker::with_config(format!("{name}-upload"), config.clone()),
            download_circuit: CircuitBreaker::with_config(format!("{name}-download"), config),
        }
    }

    #[s3_operation(class = "upload", op = "create_bucket", bucket = self.bucket)]
    pub async fn create_bucket(&self) -> Result<(), S3Error> {
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await?;
        Ok(())
    }

    // Backoffs of tens of milliseconds: the program waits through them.
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket, base_delay = "50ms")]
    pub async fn upload(&self, key: &str, body: &[u8]) -> Result<(), S3Error> {
        put_object(&self.client, &self.bucket, key, body).await
    }

    /// Like `upload`, but the first attempt goes through `first` instead: a client of an address
    /// where nothing listens makes it fail as a network outage does, with a refused connection.
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket, base_delay = "50ms")]
    pub async fn upload_first_through(
        &self,
        first: &aws_sdk_s3::Client,
        attempts: &AtomicU32,
        key: &str,
        body: &[u8],
    ) -> Result<(), S3Error> {
        let client = match attempts.fetch_add(1, Ordering::SeqCst) {
            0 => first,
            _ => &self.client,
        };
        put_object(client, &self.bucket, key, body).await
    }

    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket, base_delay = "50ms")]
    pub async fn download(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(output.body.collect().await?.to_vec())
    }

    #[s3_operation(class = "cleanup", op = "delete_object", bucket = self.bucket)]
    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let endpoint = std::env::var("S3_OPS_CONSUMER_ENDPOINT")
        .expect("S3_OPS_CONSUMER_ENDPOINT names the S3 server to run against");

    // The metrics go to the application's own registry, registered before any breaker exists.
    let registry = prometheus::Registry::new();
    metrics::register(&registry).expect("register the s3-ops metrics");
    let metrics_server = MetricsServer::bind("127.0.0.1:0")
        .await
        .expect("bind the metrics server");

    let unreachable = client(&format!("http://{}", refused_addr()));
    let service = StorageService::new(client(&endpoint), "consumer", BreakerConfig::default());

    service.create_bucket().await.expect("create the bucket");
    service
        .upload("report.md", b"# Report\n")
        .await
        .expect("upload");
    let body = service.download("report.md").await.expect("download");
    assert_eq!(body, b"# Report\n");
    let missing = service.download("missing.md").await.unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchKey"), "{missing}");
    assert_eq!(missing.classify(), ErrorClass::Client);
    println!("upload, download, NoSuchKey: ok");

    // A refused connection is transient: the second attempt, through S3, succeeds.
    let second_attempts = metrics::retry_attempts_total("put_object", 2);
    let attempts = AtomicU32::new(0);
    service
        .upload_first_through(&unreachable, &attempts, "retried.md", b"retried")
        .await
        .expect("the retry succeeds");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(
        metrics::retry_attempts_total("put_object", 2),
        second_attempts + 1
    );
    let body = service.download("retried.md").await.expect("download");
    assert_eq!(body, b"retried");
    println!("retry after a refused connection: ok (2 attempts)");

    // An outage: every attempt is refused; two failed calls open the circuit.
    let outage = StorageService::new(
        unreachable,
        "consumer-outage",
        BreakerConfig {
            failure_threshold: 2,
            ..BreakerConfig::default()
        },
    );
    for _ in 0..2 {
        let err = outage.download("report.md").await.unwrap_err();
        assert_eq!(err.classify(), ErrorClass::Transient, "{err}");
    }
    assert_eq!(outage.download_circuit.state(), CircuitState::Open);
    let first_attempts = metrics::retry_attempts_total("get_object", 1);
    let started = Instant::now();
    let refused = outage.download("report.md").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(refused.is_circuit_open(), "{refused}");
    assert_eq!(
        metrics::retry_attempts_total("get_object", 1),
        first_attempts,
        "an open circuit makes no attempt"
    );
    // A guard against a hang, not a benchmark: the refusal takes microseconds.
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    println!("open circuit refuses at once: ok ({elapsed:?})");

    service.delete("report.md").await.expect("delete");
    let gone = service.download("report.md").await.unwrap_err();
    assert_eq!(gone.code(), Some("NoSuchKey"), "{gone}");
    println!("cleanup: ok");

    // The same series in the application's registry and on GET /metrics.
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .expect("encode the registry");
    let scraped = scrape(metrics_server.local_addr()).await;
    for exposition in [&text, &scraped] {
        assert_eq!(
            sample(
                exposition,
                "s3_circuit_breaker_state",
                &[r#"circuit_name="consumer-outage-download""#]
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                exposition,
                "s3_operations_total",
                &[
                    r#"operation="get_object""#,
                    r#"result="circuit_open""#,
                    &format!(r#"bucket="{BUCKET}""#)
                ]
            ),
            Some(1.0)
        );
    }
    assert_eq!(
        metrics::operations_total("get_object", BUCKET, OperationResult::CircuitOpen),
        1
    );
    metrics_server.shutdown().await;
    println!("metrics in the registry and on GET /metrics: ok");
}

/// One `PutObject` request: the body of both upload methods.
async fn put_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> Result<(), S3Error> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await?;
    Ok(())
}

/// An SDK client as an s3-ops user builds it: `client::configure` turns the SDK's own retries off.
fn client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "s3-ops-consumer",
        ))
        .endpoint_url(endpoint)
        .force_path_style(true);
    let options = ClientOptions::new()
        .attempt_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2));
    aws_sdk_s3::Client::from_conf(configure(config, &options).build())
}

/// An address where nothing listens: a port bound, then released, so connecting is refused.
fn refused_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// The body of `GET /metrics`.
async fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("send the request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("read the answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
}

/// The value of the one sample of `name` whose labels include every one of `labels`.
fn sample(exposition: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut found = exposition.lines().filter_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let rest = series.strip_prefix(name)?.strip_prefix('{')?;
        labels
            .iter()
            .all(|label| rest.contains(label))
            .then(|| value.parse().expect("a sample value"))
    });
    let value = found.next();
    assert!(
        found.next().is_none(),
        "several {name} samples match {labels:?}"
    );
    value
}
