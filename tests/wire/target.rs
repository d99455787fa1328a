//! Where a wire test runs, and what it can observe there.
//!
//! By default every test starts its own embedded server ([`S3Server`]: s3s over a temporary
//! directory, with fault injection and server-side request counters). With
//! `S3_OPS_TEST_ENDPOINT` set, the tests that need no fault injection run against that server
//! instead ([`Wire::selected`]); those that inject faults at the wire still start an embedded
//! server ([`Wire::embedded`]). Every test prints which target it used.
//!
//! | variable | meaning |
//! |---|---|
//! | `S3_OPS_TEST_ENDPOINT` | the server, `http://127.0.0.1:7480`; unset: embedded servers only |
//! | `S3_OPS_TEST_ACCESS_KEY`, `S3_OPS_TEST_SECRET_KEY` | required with the endpoint |
//! | `S3_OPS_TEST_REGION` | default `us-east-1` |
//! | `S3_OPS_TEST_CHECKSUMS` | `when_required` (Ceph RGW), or `default` / `when_supported` |
//! | `S3_OPS_TEST_SERVER` | a name to print (`moto`, `ceph`) |
//! | `S3_OPS_TEST_SEED` | the seed of the random sizes and bytes, to replay a run (printed by each test) |
//!
//! Clients of a third-party server are path style, configured with
//! [`s3_ops_runtime::client::configure`], over an HTTP client of their test's own (see
//! `External::config_builder` for why not the testkit's shared one).
//!
//! On either target every client the services use counts, client-side, the requests it puts on
//! the wire (an SDK interceptor, [`Wire::sent`]), so "no request reaches the server" can be
//! asserted against a third-party server too. Buckets are named per test
//! (`wire-<test>-<tag>-<random>`), created by the test or the code under test, and removed with
//! their objects when the test ends, even when it fails ([`Wire::run`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use s3_ops_examples::Endpoint;
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_testkit::{Faults, S3Server};

/// `S3_OPS_TEST_ENDPOINT`
pub(crate) const ENDPOINT_VAR: &str = "S3_OPS_TEST_ENDPOINT";
/// `S3_OPS_TEST_ACCESS_KEY`
pub(crate) const ACCESS_KEY_VAR: &str = "S3_OPS_TEST_ACCESS_KEY";
/// `S3_OPS_TEST_SECRET_KEY`
pub(crate) const SECRET_KEY_VAR: &str = "S3_OPS_TEST_SECRET_KEY";
/// `S3_OPS_TEST_REGION`
pub(crate) const REGION_VAR: &str = "S3_OPS_TEST_REGION";
/// `S3_OPS_TEST_CHECKSUMS`
pub(crate) const CHECKSUMS_VAR: &str = "S3_OPS_TEST_CHECKSUMS";
/// `S3_OPS_TEST_SERVER`
pub(crate) const SERVER_VAR: &str = "S3_OPS_TEST_SERVER";
/// `S3_OPS_TEST_SEED`
pub(crate) const SEED_VAR: &str = "S3_OPS_TEST_SEED";

/// A third-party S3 server named by the environment.
#[derive(Clone)]
pub(crate) struct External {
    /// `S3_OPS_TEST_SERVER`, or the endpoint.
    pub(crate) name: String,
    /// `S3_OPS_TEST_ENDPOINT`.
    pub(crate) endpoint: String,
    region: String,
    access_key: String,
    secret_key: String,
    checksums_when_required: bool,
}

impl External {
    /// The server the environment names, read once per process; `None` without
    /// `S3_OPS_TEST_ENDPOINT`.
    ///
    /// # Panics
    ///
    /// When the endpoint is set without its credentials, or `S3_OPS_TEST_CHECKSUMS` has a value
    /// it does not know: a misconfigured run must fail, not fall back to the embedded server.
    pub(crate) fn from_env() -> Option<&'static External> {
        static EXTERNAL: OnceLock<Option<External>> = OnceLock::new();
        EXTERNAL
            .get_or_init(|| Self::from_lookup(|name| std::env::var(name).ok()))
            .as_ref()
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<External> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let endpoint = get(ENDPOINT_VAR)?;
        let required = |name: &str| {
            get(name).unwrap_or_else(|| panic!("`{name}` must be set with `{ENDPOINT_VAR}`"))
        };
        let checksums_when_required = match get(CHECKSUMS_VAR).as_deref() {
            None | Some("default" | "when_supported") => false,
            Some("when_required") => true,
            Some(other) => panic!(
                "`{CHECKSUMS_VAR}={other}` is not understood: use `when_required`, \
                 `when_supported` or `default`"
            ),
        };
        Some(External {
            name: get(SERVER_VAR).unwrap_or_else(|| endpoint.clone()),
            region: get(REGION_VAR).unwrap_or_else(|| "us-east-1".to_owned()),
            access_key: required(ACCESS_KEY_VAR),
            secret_key: required(SECRET_KEY_VAR),
            checksums_when_required,
            endpoint,
        })
    }

    /// Path style, with an HTTP client of the test's own.
    ///
    /// Not the shared [`s3_ops_testkit::http_client`]: its connection pool is keyed by host and
    /// port, and every test here talks to the same one, so a test would pick up a pooled
    /// connection of a test that has just ended, whose runtime (and with it the connection's
    /// task) is being dropped: "dispatch task is gone: runtime dropped the dispatch task".
    /// Same builder and TLS provider as the testkit's.
    fn config_builder(&self) -> aws_sdk_s3::config::Builder {
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new(
                &self.access_key,
                &self.secret_key,
                None,
                None,
                "s3-ops-wire-tests",
            ))
            .force_path_style(true)
            .http_client(http_client)
    }
}

/// The client options of every test client: SDK retries off (s3-ops retries), and attempt
/// limits far above any request of these tests, so a hung server fails the test instead of
/// hanging it.
fn client_options(checksums_when_required: bool) -> ClientOptions {
    ClientOptions::new()
        .attempt_timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(3))
        .checksums_when_required(checksums_when_required)
}

/// Counts the requests a client puts on the wire, by operation (snake_case, as the testkit
/// names them): one per transmission, so one per attempt, whether or not an answer comes.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounter {
    /// Requests of `op` (`"put_object"`) sent so far.
    pub(crate) fn count(&self, op: &str) -> u64 {
        self.lock().get(op).copied().unwrap_or(0)
    }

    /// Requests of every operation sent so far.
    pub(crate) fn total(&self) -> u64 {
        self.lock().values().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    // The last hook before the request is handed to the HTTP client: it runs once per attempt
    // and only for requests that are really sent (a call refused by an open circuit never
    // gets here, nor does one that fails to build).
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map_or_else(|| "unknown".to_owned(), |m| snake_case(m.name()));
        *self.lock().entry(op).or_insert(0) += 1;
        Ok(())
    }
}

/// `PutObject` → `put_object`, `ListObjectsV2` → `list_objects_v2`.
fn snake_case(pascal: &str) -> String {
    let mut out = String::with_capacity(pascal.len() + 4);
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

enum Target {
    Embedded(S3Server),
    External(&'static External),
}

/// One test's S3: the server, the clients, the buckets to remove at the end.
pub(crate) struct Wire {
    test: &'static str,
    target: Target,
    base: aws_sdk_s3::config::Builder,
    options: ClientOptions,
    client: Client,
    plain: Client,
    sent: RequestCounter,
    buckets: Mutex<Vec<String>>,
    seed: u64,
}

impl Wire {
    /// An embedded server, whatever the environment says: for the tests that inject faults at
    /// the wire or read the server's own request counters.
    pub(crate) async fn embedded(test: &'static str) -> Arc<Wire> {
        let server = S3Server::start()
            .await
            .expect("the embedded S3 server starts");
        let builder = server.config_builder();
        let wire = Self::new(test, Target::Embedded(server), builder, false);
        eprintln!(
            "wire test `{test}`: embedded s3s server at {} (fault injection){}",
            wire.endpoint_url(),
            if External::from_env().is_some() {
                "; it injects faults, so it does not run against the external server"
            } else {
                ""
            }
        );
        wire
    }

    /// The third-party server of `S3_OPS_TEST_ENDPOINT` when set, else an embedded server.
    pub(crate) async fn selected(test: &'static str) -> Arc<Wire> {
        match External::from_env() {
            None => Self::embedded(test).await,
            Some(external) => {
                let builder = external.config_builder();
                let wire = Self::new(
                    test,
                    Target::External(external),
                    builder,
                    external.checksums_when_required,
                );
                eprintln!(
                    "wire test `{test}`: external server {} at {}{}",
                    external.name,
                    external.endpoint,
                    if external.checksums_when_required {
                        " (checksums when required)"
                    } else {
                        ""
                    }
                );
                wire
            }
        }
    }

    fn new(
        test: &'static str,
        target: Target,
        builder: aws_sdk_s3::config::Builder,
        checksums_when_required: bool,
    ) -> Arc<Wire> {
        let options = client_options(checksums_when_required);
        let sent = RequestCounter::default();
        let client = Client::from_conf(
            configure(builder.clone(), &options)
                .interceptor(sent.clone())
                .build(),
        );
        // Its own client, with no counter: what the tests read back with must not be mistaken
        // for requests of the code under test.
        let plain = Client::from_conf(configure(builder.clone(), &options).build());
        let seed = match std::env::var(SEED_VAR) {
            Ok(v) => v
                .parse()
                .unwrap_or_else(|_| panic!("`{SEED_VAR}={v}` is not a u64")),
            Err(_) => random_u64(),
        };
        eprintln!("wire test `{test}`: {SEED_VAR}={seed}");
        Arc::new(Wire {
            test,
            target,
            base: builder,
            options,
            client,
            plain,
            sent,
            buckets: Mutex::new(Vec::new()),
            seed,
        })
    }

    /// Runs `body`, then removes the test's buckets and their objects, also when `body`
    /// panicked (the panic is then resumed). Removal failing after a passing body fails the
    /// test: a server that cannot delete what it stored is a finding.
    pub(crate) async fn run<F, Fut>(self: Arc<Self>, body: F)
    where
        F: FnOnce(Arc<Wire>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        // Spawned, so a panic in the body comes back as a `JoinError` and the buckets are still
        // removed on the same runtime, whose connections are alive.
        let outcome = tokio::spawn(body(self.clone())).await;
        let removed = self.remove_buckets().await;
        match outcome {
            Err(err) if err.is_panic() => {
                if let Err(msg) = removed {
                    eprintln!("wire test `{}`: {msg}", self.test);
                }
                std::panic::resume_unwind(err.into_panic());
            }
            Err(err) => panic!("wire test `{}` was cancelled: {err}", self.test),
            Ok(()) => {
                if let Err(msg) = removed {
                    panic!("wire test `{}`: {msg}", self.test);
                }
            }
        }
    }

    /// The client for the code under test: configured with
    /// [`s3_ops_runtime::client::configure`] and counted ([`sent`](Self::sent)).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// A client configured like [`client`](Self::client), with a counter of its own, for
    /// another endpoint (a port where nothing listens).
    pub(crate) fn client_at(&self, endpoint: &str) -> (Client, RequestCounter) {
        let sent = RequestCounter::default();
        let config = configure(self.base.clone().endpoint_url(endpoint), &self.options)
            .interceptor(sent.clone())
            .build();
        (Client::from_conf(config), sent)
    }

    /// A separate client, not counted, for setting up and reading back.
    pub(crate) fn plain(&self) -> &Client {
        &self.plain
    }

    /// Requests of `op` (`"put_object"`) that [`client`](Self::client) sent.
    pub(crate) fn sent(&self, op: &str) -> u64 {
        self.sent.count(op)
    }

    /// Requests of every operation that [`client`](Self::client) sent.
    pub(crate) fn sent_total(&self) -> u64 {
        self.sent.total()
    }

    /// Requests of `op` the embedded server received; `None` on an external server.
    pub(crate) fn received(&self, op: &'static str) -> Option<u64> {
        self.server().map(|s| s.faults().requests(op))
    }

    /// The embedded server, `None` on an external one.
    pub(crate) fn server(&self) -> Option<&S3Server> {
        match &self.target {
            Target::Embedded(server) => Some(server),
            Target::External(_) => None,
        }
    }

    /// The embedded server's faults.
    ///
    /// # Panics
    ///
    /// On an external server: only tests started with [`Wire::embedded`] inject faults.
    pub(crate) fn faults(&self) -> &Faults {
        self.server().map(S3Server::faults).expect(
            "fault injection needs the embedded server: start the test with `Wire::embedded`",
        )
    }

    /// The server's URL.
    pub(crate) fn endpoint_url(&self) -> String {
        match &self.target {
            Target::Embedded(server) => server.endpoint(),
            Target::External(external) => external.endpoint.clone(),
        }
    }

    /// Where the services' object URLs point.
    pub(crate) fn endpoint(&self) -> Endpoint {
        Endpoint::custom(self.endpoint_url())
    }

    /// A random generator for this test, from the printed seed (offset by `stream`, so two
    /// generators of one test differ).
    pub(crate) fn rng(&self, stream: u64) -> Rng {
        Rng::new(self.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// A new bucket name for this test, registered for removal at the end; the code under test
    /// creates it.
    pub(crate) fn bucket_name(&self, tag: &str) -> String {
        let slug: String = self
            .test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(32)
            .collect();
        let name = format!(
            "wire-{}-{tag}-{:08x}",
            slug.trim_end_matches('-'),
            random_u64() as u32
        );
        assert!(
            name.len() <= 63,
            "bucket name {name:?} is too long: shorten the tag"
        );
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name.clone());
        name
    }

    /// A new, empty bucket for this test, created with the plain client.
    pub(crate) async fn create_bucket(&self, tag: &str) -> String {
        let name = self.bucket_name(tag);
        self.plain
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .unwrap_or_else(|err| panic!("creating bucket {name}: {}", chain(&err)));
        name
    }

    /// Every key in `bucket` under `prefix`, listed with the plain client, page by page.
    pub(crate) async fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut pages = self
            .plain
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.unwrap_or_else(|err| panic!("listing {bucket}: {}", chain(&err)));
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys.sort_unstable();
        keys
    }

    /// The object's bytes, read with the plain client; `None` when it does not exist.
    pub(crate) async fn read_plain(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match self.plain.get_object().bucket(bucket).key(key).send().await {
            Ok(object) => Some(
                object
                    .body
                    .collect()
                    .await
                    .unwrap_or_else(|err| panic!("reading {bucket}/{key}: {}", chain(&err)))
                    .to_vec(),
            ),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(err) => panic!("reading {bucket}/{key}: {}", chain(&err)),
        }
    }

    /// Writes an object with the plain client.
    pub(crate) async fn put_plain(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.plain
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap_or_else(|err| panic!("writing {bucket}/{key}: {}", chain(&err)));
    }

    async fn remove_buckets(&self) -> Result<(), String> {
        if let Some(server) = self.server() {
            // A test that failed half-way may leave an outage or queued faults behind.
            server.faults().clear();
        }
        let buckets =
            std::mem::take(&mut *self.buckets.lock().unwrap_or_else(PoisonError::into_inner));
        let mut failures = Vec::new();
        for bucket in buckets {
            if let Err(msg) = self.remove_bucket(&bucket).await {
                failures.push(format!("{bucket}: {msg}"));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!("could not remove buckets: {}", failures.join("; ")))
        }
    }

    async fn remove_bucket(&self, bucket: &str) -> Result<(), String> {
        let exists = self.plain.head_bucket().bucket(bucket).send().await;
        if let Err(err) = exists {
            // Never created (the code under test did not get that far).
            if err.raw_response().map(|r| r.status().as_u16()) == Some(404) {
                return Ok(());
            }
            return Err(chain(&err));
        }
        let keys = {
            let mut keys = Vec::new();
            let mut pages = self
                .plain
                .list_objects_v2()
                .bucket(bucket)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| chain(&e))?;
                keys.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_owned)),
                );
            }
            keys
        };
        for batch in keys.chunks(1000) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| e.to_string())?;
            let out = self
                .plain
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| chain(&e))?;
            if let Some(first) = out.errors().first() {
                return Err(format!(
                    "{} keys not deleted, first: {first:?}",
                    out.errors().len()
                ));
            }
        }
        self.plain
            .delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| chain(&e))?;
        Ok(())
    }
}

/// `a: b: c` over an error's source chain: the SDK's top-level messages say little alone.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A few random bits from the OS-seeded hasher keys; enough for names and seeds.
fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// SplitMix64: reproducible sizes and bytes from a printed seed, without a dependency.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator starting at `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max` (with a negligible bias).
    pub(crate) fn below_or_eq(&mut self, max: usize) -> usize {
        (self.next_u64() % (max as u64 + 1)) as usize
    }

    /// `len` random bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_match_the_testkit() {
        assert_eq!(snake_case("PutObject"), "put_object");
        assert_eq!(snake_case("ListObjectsV2"), "list_objects_v2");
        assert_eq!(snake_case("DeleteObjects"), "delete_objects");
    }

    #[test]
    fn environment() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(External::from_lookup(vars(&[])).is_none());
        let ceph = External::from_lookup(vars(&[
            (ENDPOINT_VAR, "http://127.0.0.1:7480"),
            (ACCESS_KEY_VAR, "ak"),
            (SECRET_KEY_VAR, "sk"),
            (CHECKSUMS_VAR, "when_required"),
            (SERVER_VAR, "ceph"),
        ]))
        .unwrap();
        assert!(ceph.checksums_when_required);
        assert_eq!(
            (ceph.name.as_str(), ceph.region.as_str()),
            ("ceph", "us-east-1")
        );
        let moto = External::from_lookup(vars(&[
            (ENDPOINT_VAR, "http://127.0.0.1:5055"),
            (ACCESS_KEY_VAR, "testing"),
            (SECRET_KEY_VAR, "testing"),
            (CHECKSUMS_VAR, "default"),
        ]))
        .unwrap();
        assert!(!moto.checksums_when_required);
        assert_eq!(moto.name, "http://127.0.0.1:5055");
    }

    #[test]
    #[should_panic(expected = "`S3_OPS_TEST_SECRET_KEY` must be set")]
    fn a_missing_secret_is_an_error() {
        External::from_lookup(|name| {
            (name == ENDPOINT_VAR || name == ACCESS_KEY_VAR).then(|| "x".to_owned())
        });
    }
}
