//! Failures of the HTTP client itself, on real sockets: a server that answers what is not
//! HTTP. The SDK's HTTP client reports such an error without a kind; the request reached the
//! network, so it is transient: retried, and counted against the breaker.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::Client;
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::{s3_operation, CircuitBreaker, Classify, ErrorClass, S3Error, S3ErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

struct Reader {
    client: Client,
    download_circuit: CircuitBreaker,
}

impl Reader {
    #[s3_operation(
        class = "download",
        op = "get_object",
        base_delay = "1ms",
        max_delay = "5ms"
    )]
    async fn get(&self) -> Result<(), S3Error> {
        self.client.get_object().bucket("b").key("k").send().await?;
        Ok(())
    }
}

/// Accepts connections on 127.0.0.1 and answers each request with bytes that are not HTTP;
/// counts the requests.
async fn garbling_server() -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
    let requests = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                if matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = socket
                        .write_all(b"HTTP/1.1 ?!? garbled\r\n\x00\x01\r\n\r\n")
                        .await;
                    // Keep the connection open: the client must fail on the answer itself.
                    let _ = socket.read(&mut buf).await;
                }
            });
        }
    });
    (endpoint, requests)
}

#[tokio::test]
async fn a_garbled_answer_is_transient_retried_and_counted_against_the_breaker() {
    let (endpoint, requests) = garbling_server().await;
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .force_path_style(true)
        .http_client(s3_ops_testkit::http_client());
    let reader = Reader {
        client: Client::from_conf(configure(config, &ClientOptions::new()).build()),
        download_circuit: CircuitBreaker::new("garbled-answers"),
    };

    let err = reader.get().await.expect_err("nothing parses");
    assert_eq!(err.kind(), S3ErrorKind::Dispatch, "{err:?}");
    assert_eq!(err.classify(), ErrorClass::Transient, "{err:?}");
    assert_eq!(requests.load(Ordering::SeqCst), 3, "retried");
    for _ in 0..4 {
        let _ = reader.get().await;
    }
    assert!(
        reader.get().await.expect_err("refused").is_circuit_open(),
        "five failed calls open the breaker"
    );
}
