//! `MetricsServer` (feature `metrics-server`): `GET /metrics` over a real socket, other methods
//! and paths refused, and the listener closed on shutdown and on drop.
//!
//! Metrics are process-global: every test uses operation, bucket and circuit names of its own.

mod support;

use std::time::Duration;

use s3_ops_runtime::metrics;
use s3_ops_runtime::retry::RetryPolicy;
use s3_ops_runtime::{CircuitBreaker, Operation, OperationClass, S3Error};
use support::{samples, value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` as is and reads the whole answer (the server closes after it).
async fn exchange(addr: std::net::SocketAddr, request: &str) -> String {
    let talk = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read");
        String::from_utf8(answer).expect("an HTTP/1.1 answer is text")
    };
    // A guard against a hang, not a speed assertion.
    tokio::time::timeout(Duration::from_secs(30), talk)
        .await
        .expect("the server answers")
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

#[tokio::test]
async fn the_metrics_server_serves_get_metrics() {
    const OP: &str = "metrics_server_op";
    let op = Operation::with_policy(OperationClass::Upload, OP, RetryPolicy::NO_RETRY);
    let breaker = CircuitBreaker::new("metrics-server-circuit");
    op.run(&breaker, "metrics-server-bucket", || async {
        Ok::<_, S3Error>(())
    })
    .await
    .unwrap();

    let server = metrics::MetricsServer::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0);

    let answer = exchange(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let all = samples(body);
    assert_eq!(
        value(
            &all,
            "s3_operations_total",
            &[
                ("operation", OP),
                ("bucket", "metrics-server-bucket"),
                ("result", "success")
            ]
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        value(
            &all,
            "s3_circuit_breaker_state",
            &[("circuit_name", "metrics-server-circuit")]
        ),
        Some(0.0)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_metrics_server_refuses_other_methods_and_paths() {
    let server = metrics::MetricsServer::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = server.local_addr();

    let answer = exchange(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status_line(&answer).starts_with("HTTP/1.1 405"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("allow: get"),
        "{answer}"
    );

    let answer = exchange(
        addr,
        "GET /other HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status_line(&answer).starts_with("HTTP/1.1 404"), "{answer}");

    let answer = exchange(addr, "THIS IS NOT HTTP\r\n\r\n").await;
    let status: u16 = status_line(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    assert!((400..500).contains(&status), "{answer}");

    // Still serving after a bad request.
    let answer = exchange(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
    server.shutdown().await;
}

#[tokio::test]
async fn the_metrics_server_stops_on_shutdown_and_on_drop() {
    let server = metrics::MetricsServer::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = server.local_addr();
    tokio::time::timeout(Duration::from_secs(30), server.shutdown())
        .await
        .expect("shutdown completes");
    // A blocking connect, with no `.await` in between: the server has already ended when
    // `shutdown` returns, not on some later turn of the runtime.
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens after shutdown"
    );

    let server = metrics::MetricsServer::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = server.local_addr();
    drop(server);
    // The accept loop ends on its next turn; poll until the port is closed.
    let closed = async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), closed)
        .await
        .expect("nothing listens after drop");
}
