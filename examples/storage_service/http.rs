//! A bare HTTP/1.0 `GET`, enough to scrape the metrics endpoint and to fetch a presigned URL
//! the way a browser would (no SDK, no credentials). HTTP/1.0 so the server answers with a
//! plain body and closes the connection: no chunked decoding needed.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer: status and body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// `GET url`, for `http://host:port/path?query` URLs only.
pub(crate) async fn get(url: &str) -> io::Result<Response> {
    let invalid =
        |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {url}"));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// URLs are supported"))?;
    let (host, target) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    let exchange = async {
        let mut stream = TcpStream::connect(host).await?;
        let request = format!("GET {target} HTTP/1.0\r\nHost: {host}\r\nAccept: */*\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("GET {url} timed out")))??;
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no HTTP header in the answer"))?;
    let status = std::str::from_utf8(&raw[..head_end])
        .ok()
        .and_then(|head| head.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no HTTP status in the answer"))?;
    Ok(Response {
        status,
        body: raw[head_end + 4..].to_vec(),
    })
}
