//! `metrics::MetricsServer` (feature `metrics-server`) as something exposed on a network: it
//! listens only where told, answers malformed HTTP with a 4xx instead of hanging or crashing,
//! cuts off clients that never finish their headers, and serves a burst of 10,000 scrapes from
//! 100 keep-alive clients with every answer whole — then keeps serving.
//!
//! The clients speak raw HTTP/1.1 over `tokio::net::TcpStream`, so a malformed request is sent
//! byte for byte as written here.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use s3_ops_runtime::metrics::MetricsServer;
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Long enough for any answer on a loaded machine; a server that does not answer at all fails
/// the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

/// One HTTP/1.1 response.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (status line, headers, `Content-Length` body) from a keep-alive stream.
async fn read_response<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Response> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| io::Error::other(format!("bad header {header:?}")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(Ok(0), |(_, v)| v.parse())
        .map_err(io::Error::other)?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Sends `request` as is on a new connection and reads the answer. The reader runs while the
/// request is written, so an answer sent before the request is complete (431 for oversized
/// headers) is read before the server closes the connection on the rest.
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> io::Result<Response> {
    let stream = TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    let reader = tokio::spawn(async move { read_response(&mut BufReader::new(read)).await });
    // The server may stop reading (and close) before all of it is sent.
    let _ = write.write_all(&request).await;
    let _ = write.flush().await;
    tokio::time::timeout(PATIENCE, reader)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer"))?
        .expect("reader task")
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// Checks a Prometheus text exposition line by line: `# HELP` / `# TYPE` comments, and samples
/// `name{label="value",...} number` whose names were declared by a `# TYPE`.
fn check_exposition(body: &str) -> Result<usize, String> {
    let mut declared = std::collections::HashSet::new();
    let mut samples = 0;
    for line in body.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some("counter" | "gauge" | "histogram")) => {
                    declared.insert(name.to_owned());
                }
                (Some("HELP"), Some(_), _) => {}
                _ => return Err(format!("bad comment {line:?}")),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("bad sample {line:?}"))?;
        value
            .parse::<f64>()
            .map_err(|_| format!("bad value in {line:?}"))?;
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, Some(labels)),
            None => (series, None),
        };
        if let Some(labels) = labels {
            let labels = labels
                .strip_suffix('}')
                .ok_or_else(|| format!("unclosed labels in {line:?}"))?;
            for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                let (key, quoted) = pair
                    .split_once("=\"")
                    .ok_or_else(|| format!("bad label {pair:?} in {line:?}"))?;
                if key.is_empty() || quoted.contains('\n') {
                    return Err(format!("bad label {pair:?} in {line:?}"));
                }
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| declared.contains(*base))
            .unwrap_or(name);
        if !declared.contains(family) {
            return Err(format!("sample of an undeclared metric: {line:?}"));
        }
        samples += 1;
    }
    Ok(samples)
}

struct Probe {
    download_circuit: CircuitBreaker,
}

impl Probe {
    #[s3_operation(class = "download", op = "list_buckets", bucket = "endpoint-bucket")]
    async fn list(&self) -> Result<(), S3Error> {
        Ok(())
    }
}

/// Something to expose: a breaker and a counted operation of this test binary.
async fn some_metrics() -> Probe {
    let probe = Probe {
        download_circuit: CircuitBreaker::new("endpoint-circuit"),
    };
    probe.list().await.unwrap();
    probe
}

fn assert_scrape(response: &Response) {
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = std::str::from_utf8(&response.body).expect("UTF-8 exposition");
    let samples = check_exposition(body).unwrap_or_else(|problem| panic!("{problem}\n{body}"));
    assert!(samples > 0);
    assert!(body.contains("s3_circuit_breaker_state{circuit_name=\"endpoint-circuit\"} 0"));
    let counted = body.lines().any(|line| {
        line.starts_with("s3_operations_total{")
            && line.contains("operation=\"list_buckets\"")
            && line.contains("bucket=\"endpoint-bucket\"")
            && line.contains("result=\"success\"")
    });
    assert!(counted, "the test's own operation is exposed: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_binds_only_where_told() {
    let _probe = some_metrics().await;
    let server = MetricsServer::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 0, "the port actually bound is reported");
    assert_scrape(&exchange(addr, get("/metrics")).await.unwrap());

    // The address is taken: a second server there fails, and says so.
    let err = MetricsServer::bind(addr).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");

    // Bound to one loopback address, it is not reachable on another one (Linux routes all of
    // 127.0.0.0/8 to the loopback interface).
    let other = MetricsServer::bind("127.0.0.2:0").await.unwrap();
    let port = other.local_addr().port();
    assert_eq!(
        other.local_addr().ip(),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))
    );
    let elsewhere = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let refused = TcpStream::connect(elsewhere).await.unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    assert_scrape(&exchange(other.local_addr(), get("/metrics")).await.unwrap());

    // Shut down, it no longer listens.
    server.shutdown().await;
    let refused = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_a_4xx_and_the_server_keeps_serving() {
    let _probe = some_metrics().await;
    let server = MetricsServer::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();

    let mut huge_header = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Padding: ".to_vec();
    huge_header.resize(huge_header.len() + (1 << 20), b'a');
    huge_header.extend_from_slice(b"\r\n\r\n");
    let mut many_headers = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    for i in 0..500 {
        many_headers.extend_from_slice(format!("X-Header-{i}: v\r\n").as_bytes());
    }
    many_headers.extend_from_slice(b"\r\n");

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage request line", b"GARBAGE\r\n\r\n".to_vec()),
        ("binary request line", b"\xff\xfe\x00\x01 /metrics HTTP/1.1\r\n\r\n".to_vec()),
        ("HTTP/0.9-style request", b"GET /metrics\r\n\r\n".to_vec()),
        ("header without a colon", b"GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec()),
        ("header with a bad name", b"GET /metrics HTTP/1.1\r\nHo st: x\r\n\r\n".to_vec()),
        ("control bytes in a header", b"GET /metrics HTTP/1.1\r\nHost: x\x00y\r\n\r\n".to_vec()),
        ("1 MiB header", huge_header),
        ("500 headers", many_headers),
        ("space in the path", b"GET /me trics HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        (
            "two Content-Lengths that disagree",
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
        ),
        ("another method", b"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("another path", get("/admin")),
    ];
    for (what, request) in cases {
        let response = exchange(addr, request)
            .await
            .unwrap_or_else(|e| panic!("{what}: no HTTP answer ({e})"));
        assert!(
            (400..500).contains(&response.status),
            "{what}: answered {}",
            response.status
        );
        eprintln!("{what}: {}", response.status);
    }
    assert_scrape(&exchange(addr, get("/metrics")).await.unwrap());
}

/// A client that starts a request and never finishes its headers is disconnected (after the
/// server's 10 s header timeout, on the paused clock) instead of holding a connection forever.
#[tokio::test(start_paused = true)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let server = MetricsServer::bind("127.0.0.1:0").await.unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut rest)).await;
    match read.expect("the connection is closed well before a minute") {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
    }
    eprintln!(
        "cut off after {:?} with {:?}",
        started.elapsed(),
        String::from_utf8_lossy(&rest).lines().next()
    );
    if !rest.is_empty() {
        assert!(
            rest.starts_with(b"HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&rest)
        );
    }
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ten_thousand_scrapes_from_a_hundred_clients_is_served_whole() {
    const CLIENTS: usize = 100;
    const PER_CLIENT: usize = 100;
    let _probe = some_metrics().await;
    let server = MetricsServer::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await?;
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                let mut responses = Vec::with_capacity(PER_CLIENT);
                // Keep-alive: every request on the one connection, each answer read in full
                // before the next request.
                for _ in 0..PER_CLIENT {
                    write.write_all(&get("/metrics")).await?;
                    responses.push(read_response(&mut read).await?);
                }
                io::Result::Ok(responses)
            })
        })
        .collect();
    let mut served = 0;
    for client in clients {
        let responses = tokio::time::timeout(PATIENCE * 3, client)
            .await
            .expect("the burst is served")
            .expect("client task")
            .expect("every request answered on its keep-alive connection");
        for response in &responses {
            assert_scrape(response);
        }
        served += responses.len();
    }
    assert_eq!(served, CLIENTS * PER_CLIENT);

    // Still serving.
    assert_scrape(&exchange(addr, get("/metrics")).await.unwrap());
    server.shutdown().await;
}
