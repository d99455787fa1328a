//! The server: s3s + s3s-fs behind a hyper HTTP/1.1 server, with the fault hooks.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::path::S3Path;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Error, S3ErrorCode, S3Result, StdError};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::faults::{Decision, Faults};
use crate::op::index_of_s3s_name;

/// The access key id the server accepts (SigV4).
pub const ACCESS_KEY: &str = "AKIDS3OPSTESTKIT";
/// The secret access key the server accepts (SigV4).
pub const SECRET_KEY: &str = "s3-ops-testkit-secret-access-key";
/// The region [`S3Server::config_builder`] signs for.
pub const REGION: &str = "us-east-1";

/// How long a cut response waits, after sending part of its body, before aborting the
/// connection: long enough for the headers and the partial body to reach the client first.
const CUT_ABORT_DELAY: Duration = Duration::from_millis(50);

/// An in-process S3 server for tests: s3s + s3s-fs over a fresh temporary directory, served by
/// hyper (HTTP/1.1, keep-alive) on `127.0.0.1` at a free port, with SigV4 authentication
/// ([`ACCESS_KEY`] / [`SECRET_KEY`]) and fault injection ([`S3Server::faults`]).
///
/// The accept loop and its connections run as tasks on the tokio runtime that called
/// [`S3Server::start`] (multi-thread or current-thread; paused time works too, see
/// [`Faults`]). Dropping the server stops the accept loop, aborts its open connections and
/// deletes the directory.
pub struct S3Server {
    addr: SocketAddr,
    root: PathBuf,
    faults: Faults,
    accept_loop: JoinHandle<()>,
    // Dropped (deleting the directory) after `Drop::drop` has stopped the accept loop.
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for S3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Server")
            .field("addr", &self.addr)
            .field("root", &self.root)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl S3Server {
    /// Starts a server on `127.0.0.1:0` over a new temporary directory, with no buckets and no
    /// faults. Must be called within a tokio runtime.
    ///
    /// # Errors
    /// If the directory cannot be created or the port cannot be bound.
    pub async fn start() -> io::Result<S3Server> {
        let dir = tempfile::Builder::new()
            .prefix("s3-ops-testkit-")
            .tempdir()?;
        let fs = s3s_fs::FileSystem::new(dir.path())
            .map_err(|e| io::Error::other(format!("s3s-fs: {e:?}")))?;
        let root = dir.path().canonicalize()?;

        let faults = Faults::new();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        builder.set_access(FaultHook {
            faults: faults.clone(),
            root: root.clone(),
        });
        let service = builder.build();

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let accept_loop = tokio::spawn(accept_loop(listener, service, faults.clone()));
        tracing::debug!(%addr, root = %root.display(), "s3-ops-testkit server started");

        Ok(S3Server {
            addr,
            root,
            faults,
            accept_loop,
            _dir: dir,
        })
    }

    /// The endpoint URL, `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The access key id and secret the server accepts ([`ACCESS_KEY`], [`SECRET_KEY`]).
    #[must_use]
    pub fn credentials(&self) -> (&str, &str) {
        (ACCESS_KEY, SECRET_KEY)
    }

    /// An aws-sdk-s3 config builder for this server: endpoint, region `us-east-1`, the static
    /// credentials, path-style addressing, the latest behavior version and the shared
    /// [`http_client`](crate::http_client).
    ///
    /// No retry or timeout configuration is set: the caller adds its own (typically
    /// `.retry_config(RetryConfig::disabled())` when the code under test does the retrying).
    #[must_use]
    pub fn config_builder(&self) -> aws_sdk_s3::config::Builder {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                ACCESS_KEY,
                SECRET_KEY,
                None,
                None,
                "s3-ops-testkit",
            ))
            .force_path_style(true)
            .http_client(crate::http_client())
    }

    /// Creates a bucket directly in the store (no request is made, nothing is counted, no
    /// fault applies).
    ///
    /// # Errors
    /// `InvalidInput` if `name` is not a valid S3 bucket name (s3s would reject it, e.g. when
    /// shorter than 3 characters), `AlreadyExists` if the bucket exists, or the I/O error.
    pub async fn create_bucket(&self, name: &str) -> io::Result<()> {
        if !s3s::path::check_bucket_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid S3 bucket name {name:?}"),
            ));
        }
        tokio::fs::create_dir(self.root.join(name)).await
    }

    /// The fault-injection controls and request counters.
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The directory the objects are stored in (bucket `b`, key `k` is the file `b/k`).
    #[must_use]
    pub fn root_dir(&self) -> &Path {
        &self.root
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        // Aborting the accept loop drops its `JoinSet`, which aborts every connection task.
        self.accept_loop.abort();
    }
}

async fn accept_loop(listener: TcpListener, service: S3Service, faults: Faults) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, service.clone(), faults.clone()));
                }
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%err, "s3-ops-testkit: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, service: S3Service, faults: Faults) {
    let _ = stream.set_nodelay(true);
    let svc = hyper::service::service_fn(move |req| handle(service.clone(), faults.clone(), req));
    let mut http = hyper::server::conn::http1::Builder::new();
    // No header read timeout: it would need a timer and could fire under paused time.
    http.keep_alive(true).header_read_timeout(None);
    if let Err(err) = http.serve_connection(TokioIo::new(stream), svc).await {
        // Expected for dropped connections and cut bodies.
        tracing::debug!(%err, "s3-ops-testkit: connection ended with an error");
    }
}

/// Passed from the HTTP wrapper to the access hook in the request extensions: the hook writes
/// the wire-level fault it decided on, the wrapper carries it out.
#[derive(Clone, Default)]
struct WireTicket(Arc<AtomicU8>);

// 0: no wire-level fault (the default).
const WIRE_DROP: u8 = 1;
const WIRE_CUT: u8 = 2;

impl WireTicket {
    fn set(&self, v: u8) {
        self.0.store(v, Ordering::Release);
    }
    fn get(&self) -> u8 {
        self.0.load(Ordering::Acquire)
    }
}

/// The error hyper gets to close a connection without a response or abort a body.
#[derive(Debug)]
struct Injected(&'static str);

impl std::fmt::Display for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (injected by s3-ops-testkit)", self.0)
    }
}

impl std::error::Error for Injected {}

async fn handle(
    service: S3Service,
    faults: Faults,
    mut req: Request<Incoming>,
) -> Result<Response<FaultBody>, StdError> {
    faults.count_http_request();
    let ticket = WireTicket::default();
    req.extensions_mut().insert(ticket.clone());
    let resp = hyper::service::Service::call(&service, req)
        .await
        .map_err(StdError::from)?;
    match ticket.get() {
        WIRE_DROP => {
            faults.count_dropped();
            Err(Box::new(Injected("connection dropped")))
        }
        WIRE_CUT if resp.body().is_end_stream() => {
            faults.count_dropped();
            Err(Box::new(Injected("connection dropped (no body to cut)")))
        }
        WIRE_CUT => {
            faults.count_cut();
            let length = resp.body().size_hint().exact().or_else(|| {
                resp.headers()
                    .get(hyper::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
            });
            Ok(resp.map(|body| FaultBody::cut(body, length)))
        }
        _ => Ok(resp.map(FaultBody::pass)),
    }
}

/// The access hook: runs for every request after SigV4 verification and before the operation,
/// knowing the operation. Counts it, sleeps the delay and decides the fault.
struct FaultHook {
    faults: Faults,
    /// The store's root: a bucket is a directory under it.
    root: PathBuf,
}

#[async_trait::async_trait]
impl S3Access for FaultHook {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let index = index_of_s3s_name(cx.s3_op().name());
        self.faults.count_request(index);
        if cx.credentials().is_none() {
            // What s3s does when no access hook is set.
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Signature is required",
            ));
        }
        // s3s-fs creates missing parent directories on `PutObject`, so a write into a bucket
        // that does not exist would succeed; S3 answers `NoSuchBucket`, and so do we.
        if let S3Path::Object { bucket, .. } = cx.s3_path() {
            if !self.root.join(&**bucket).is_dir() {
                return Err(S3Error::with_message(
                    S3ErrorCode::NoSuchBucket,
                    "The specified bucket does not exist",
                ));
            }
        }
        let delay = self.faults.delay_for(index);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        // The HTTP wrapper always puts a ticket in; it carries out connection-level faults.
        let wire = |cx: &mut S3AccessContext<'_>, v: u8| {
            if let Some(ticket) = cx.extensions_mut().get::<WireTicket>() {
                ticket.set(v);
            }
        };
        match self.faults.decide(index) {
            Decision::Pass => Ok(()),
            Decision::Error(code) => Err(code.to_s3_error()),
            Decision::Outage => Err(S3Error::with_message(
                S3ErrorCode::ServiceUnavailable,
                "outage injected by s3-ops-testkit",
            )),
            Decision::Drop => {
                wire(cx, WIRE_DROP);
                // Never sent: the wrapper closes the connection instead.
                Err(S3Error::with_message(
                    S3ErrorCode::InternalError,
                    "connection dropped by s3-ops-testkit",
                ))
            }
            Decision::Cut => {
                wire(cx, WIRE_CUT);
                Ok(())
            }
        }
    }
}

/// The response body: s3s's body, or that body cut short.
struct FaultBody {
    inner: s3s::Body,
    cut: Option<Cut>,
}

struct Cut {
    /// Bytes still to send before aborting; `None` until known (length unknown up front: half
    /// of the first chunk is sent).
    remaining: Option<u64>,
    abort: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl FaultBody {
    fn pass(inner: s3s::Body) -> FaultBody {
        FaultBody { inner, cut: None }
    }

    fn cut(inner: s3s::Body, length: Option<u64>) -> FaultBody {
        FaultBody {
            inner,
            cut: Some(Cut {
                remaining: length.map(|l| l / 2),
                abort: None,
            }),
        }
    }
}

impl Body for FaultBody {
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StdError>>> {
        let this = self.get_mut();
        let Some(cut) = &mut this.cut else {
            return Pin::new(&mut this.inner).poll_frame(cx);
        };
        loop {
            if let Some(abort) = &mut cut.abort {
                ready!(abort.as_mut().poll(cx));
                return Poll::Ready(Some(Err(Box::new(Injected("response body cut short")))));
            }
            if cut.remaining == Some(0) {
                cut.abort = Some(Box::pin(tokio::time::sleep(CUT_ABORT_DELAY)));
                continue;
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(mut data) = frame.into_data() else {
                        continue; // trailers: never sent on a cut body
                    };
                    let remaining = *cut.remaining.get_or_insert(data.len() as u64 / 2);
                    if data.len() as u64 >= remaining {
                        // `remaining` is below `data.len()`, a usize.
                        data.truncate(usize::try_from(remaining).unwrap_or(usize::MAX));
                        cut.remaining = Some(0);
                    } else {
                        cut.remaining = Some(remaining - data.len() as u64);
                    }
                    if !data.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Some(Err(err)) => return Poll::Ready(Some(Err(err))),
                // The body ended early (unknown length): abort now.
                None => cut.remaining = Some(0),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.cut.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // The full length, so hyper sends the full Content-Length even when cutting.
        self.inner.size_hint()
    }
}
