//! An `aws_sdk_s3::Client` for the services: on the embedded S3 server by default (nothing to
//! set up), or on the S3-compatible server the environment names.
//!
//! Either way the client goes through [`s3_ops_runtime::client::configure`]: the SDK's own
//! retries are off (s3-ops retries; both together would multiply attempts) and each attempt has
//! a time limit.
//!
//! Production code would load its configuration with `aws-config`
//! (`aws_config::load_defaults(BehaviorVersion::latest())`: profiles, SSO, IMDS, web identity,
//! credential refresh) and pass `aws_sdk_s3::config::Builder::from(&sdk_config)` to
//! `configure`, with [`Endpoint::aws`] for result URLs. This crate reads a few variables by
//! hand instead because `aws-config` is too heavy to build here.
//!
//! | variable | meaning |
//! |---|---|
//! | `AWS_ENDPOINT_URL` | the server (`http://127.0.0.1:7480`); unset: the embedded server |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | required with `AWS_ENDPOINT_URL` |
//! | `AWS_SESSION_TOKEN` | optional |
//! | `AWS_REGION` | default `us-east-1` |
//! | `S3_OPS_CHECKSUMS` | `when_required` for Ceph RGW, Garage and others that refuse streamed uploads sent aws-chunked; `when_supported` (default) otherwise |
//!
//! The breakers and retries read theirs with [`storage_config_from_env`]: under
//! [`UPLOAD_PREFIX`] (`S3_OPS_UPLOAD_`) for writes and [`DOWNLOAD_PREFIX`] (`S3_OPS_DOWNLOAD_`)
//! for reads, the variables of `BreakerConfig::from_env` and `RetryPolicy::from_env`:
//!
//! | variable (after the prefix) | example | meaning |
//! |---|---|---|
//! | `FAILURE_THRESHOLD` | `5` | consecutive failed calls that open the circuit |
//! | `SUCCESS_THRESHOLD` | `2` | successful half-open probes that close it |
//! | `OPEN_TIMEOUT` | `5s` | how long it stays open before probing |
//! | `HALF_OPEN_MAX_CALLS` | `1` | probes at once |
//! | `RETRY_BUDGET` | `500`, `unlimited` | retry tokens shared by the circuit's calls |
//! | `FAILURE_RATE` | `50%/100/20`, `off` | also open when that share of the last calls failed |
//! | `MAX_ATTEMPTS` | `3` | attempts per call, 1 to 100 |
//! | `BASE_DELAY`, `MAX_DELAY` | `1s`, `30s` | backoff start and cap |
//!
//! A custom endpoint is addressed path style (`{endpoint}/{bucket}/{key}`), which every
//! S3-compatible server supports.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::Client;
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::ConfigError;
use s3_ops_testkit::{Faults, S3Server};

use crate::url::Endpoint;
use crate::StorageConfig;

/// `AWS_ENDPOINT_URL`
pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL";
/// `AWS_ACCESS_KEY_ID`
pub const ACCESS_KEY_VAR: &str = "AWS_ACCESS_KEY_ID";
/// `AWS_SECRET_ACCESS_KEY`
pub const SECRET_KEY_VAR: &str = "AWS_SECRET_ACCESS_KEY";
/// `AWS_SESSION_TOKEN`
pub const SESSION_TOKEN_VAR: &str = "AWS_SESSION_TOKEN";
/// `AWS_REGION`
pub const REGION_VAR: &str = "AWS_REGION";
/// `S3_OPS_CHECKSUMS`
pub const CHECKSUMS_VAR: &str = "S3_OPS_CHECKSUMS";
/// The region when `AWS_REGION` is unset.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The prefix of the variables of writes' breaker and retries: `S3_OPS_UPLOAD_OPEN_TIMEOUT=5s`.
pub const UPLOAD_PREFIX: &str = "S3_OPS_UPLOAD_";
/// The prefix of the variables of reads' breaker and retries: `S3_OPS_DOWNLOAD_MAX_ATTEMPTS=5`.
pub const DOWNLOAD_PREFIX: &str = "S3_OPS_DOWNLOAD_";

/// `config`, with the breakers' thresholds and the retry policies the process environment sets
/// under [`UPLOAD_PREFIX`] and [`DOWNLOAD_PREFIX`] instead (unset variables keep `config`'s
/// values).
///
/// ```
/// use s3_ops_examples::{setup, StorageConfig};
///
/// // S3_OPS_UPLOAD_OPEN_TIMEOUT=5s S3_OPS_DOWNLOAD_MAX_ATTEMPTS=5 cargo run --example storage_service
/// let config = setup::storage_config_from_env(StorageConfig::default())?;
/// # Ok::<(), s3_ops_runtime::ConfigError>(())
/// ```
///
/// # Errors
///
/// A variable set to a value that is not understood, named with its value.
pub fn storage_config_from_env(config: StorageConfig) -> Result<StorageConfig, ConfigError> {
    // A value that is not UTF-8 is kept, lossily, to be reported rather than taken for unset.
    storage_config_from_vars(config, |name| {
        std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
    })
}

/// [`storage_config_from_env`], reading variables through `lookup` (for tests).
///
/// # Errors
///
/// As [`storage_config_from_env`].
pub fn storage_config_from_vars(
    config: StorageConfig,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<StorageConfig, ConfigError> {
    Ok(StorageConfig {
        upload_breaker: config
            .upload_breaker
            .with_vars(UPLOAD_PREFIX, &mut lookup)?,
        upload_retry: config.upload_retry.with_vars(UPLOAD_PREFIX, &mut lookup)?,
        download_breaker: config
            .download_breaker
            .with_vars(DOWNLOAD_PREFIX, &mut lookup)?,
        download_retry: config
            .download_retry
            .with_vars(DOWNLOAD_PREFIX, &mut lookup)?,
        ..config
    })
}

/// The client options the services are meant for: SDK retries off, 10 s per attempt, 3 s to
/// connect.
///
/// An attempt longer than that fails as a timeout, which s3-ops retries; 10 s is far above an
/// S3 request of a few MiB and far below a hung connection.
pub fn client_options() -> ClientOptions {
    ClientOptions::new()
        .attempt_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
}

/// A configured client and what the services need to know about where it points.
#[derive(Debug)]
pub struct S3Connection {
    /// The client, configured with [`s3_ops_runtime::client::configure`].
    pub client: Client,
    /// Where object URLs point.
    pub endpoint: Endpoint,
    /// The embedded server, when the client talks to it. It stops when dropped: keep the
    /// connection alive as long as the client is used.
    pub server: Option<S3Server>,
}

impl S3Connection {
    /// The embedded server's fault injection, `None` on an external server.
    pub fn faults(&self) -> Option<&Faults> {
        self.server.as_ref().map(S3Server::faults)
    }

    /// One line saying where the client points.
    pub fn describe(&self) -> String {
        match (&self.server, &self.endpoint) {
            (Some(server), _) => format!(
                "embedded S3 server (s3s-fs) at {} over {}",
                server.endpoint(),
                server.root_dir().display()
            ),
            (None, Endpoint::Custom { url }) => format!("S3-compatible server at {url}"),
            (None, Endpoint::Aws { region }) => format!("AWS S3 in {region}"),
        }
    }
}

/// The external server named by the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvConfig {
    /// `AWS_ENDPOINT_URL`.
    pub endpoint_url: String,
    /// `AWS_REGION`, default `us-east-1`.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<String>,
    /// `S3_OPS_CHECKSUMS=when_required`.
    pub checksums_when_required: bool,
}

impl fmt::Debug for EnvConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret and the session token are credentials: never printed.
        f.debug_struct("EnvConfig")
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("checksums_when_required", &self.checksums_when_required)
            .finish_non_exhaustive()
    }
}

impl EnvConfig {
    /// Reads the process environment; `Ok(None)` when `AWS_ENDPOINT_URL` is unset or empty.
    ///
    /// # Errors
    ///
    /// A required variable missing, or `S3_OPS_CHECKSUMS` with an unknown value.
    pub fn from_env() -> Result<Option<Self>, SetupError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup` (for tests, or
    /// a configuration file). Empty values count as unset.
    ///
    /// # Errors
    ///
    /// A required variable missing, or `S3_OPS_CHECKSUMS` with an unknown value.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, SetupError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let Some(endpoint_url) = get(ENDPOINT_VAR) else {
            return Ok(None);
        };
        let required = |name: &'static str| get(name).ok_or(SetupError::Missing(name));
        let checksums_when_required = match get(CHECKSUMS_VAR).as_deref() {
            None | Some("when_supported") => false,
            Some("when_required") => true,
            Some(other) => {
                return Err(SetupError::Invalid {
                    name: CHECKSUMS_VAR,
                    value: other.to_owned(),
                    expected: "`when_required` or `when_supported`",
                })
            }
        };
        Ok(Some(Self {
            endpoint_url,
            region: get(REGION_VAR).unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            access_key_id: required(ACCESS_KEY_VAR)?,
            secret_access_key: required(SECRET_KEY_VAR)?,
            session_token: get(SESSION_TOKEN_VAR),
            checksums_when_required,
        }))
    }
}

/// Why no client could be set up.
#[derive(Debug)]
pub enum SetupError {
    /// A variable required with `AWS_ENDPOINT_URL` is unset.
    Missing(&'static str),
    /// A variable has a value that is not understood.
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it may be.
        expected: &'static str,
    },
    /// The embedded server could not start.
    Io(io::Error),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Missing(name) => write!(f, "`{name}` must be set with `{ENDPOINT_VAR}`"),
            SetupError::Invalid {
                name,
                value,
                expected,
            } => write!(f, "`{name}={value}` is not understood: use {expected}"),
            SetupError::Io(err) => write!(f, "the embedded S3 server could not start: {err}"),
        }
    }
}

impl StdError for SetupError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            SetupError::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for SetupError {
    fn from(err: io::Error) -> Self {
        SetupError::Io(err)
    }
}

/// The server the environment names ([`EnvConfig::from_env`]), else a new embedded server.
///
/// # Errors
///
/// See [`EnvConfig::from_env`] and [`embedded`].
pub async fn connect(options: &ClientOptions) -> Result<S3Connection, SetupError> {
    match EnvConfig::from_env()? {
        Some(env) => Ok(external(&env, options)),
        None => embedded(options).await,
    }
}

/// Starts an embedded S3 server ([`S3Server`]: s3s over a temporary directory, with fault
/// injection) on the current tokio runtime, and a client for it.
///
/// # Errors
///
/// The server could not start.
pub async fn embedded(options: &ClientOptions) -> Result<S3Connection, SetupError> {
    let server = S3Server::start().await?;
    let client = Client::from_conf(configure(server.config_builder(), options).build());
    Ok(S3Connection {
        client,
        endpoint: Endpoint::custom(server.endpoint()),
        server: Some(server),
    })
}

/// A client for the S3-compatible server `env` describes, path style, with the shared HTTP
/// client of [`s3_ops_testkit::http_client`] (hyper, rustls). Makes no request.
pub fn external(env: &EnvConfig, options: &ClientOptions) -> S3Connection {
    let options = if env.checksums_when_required {
        options.clone().checksums_when_required(true)
    } else {
        options.clone()
    };
    let builder = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&env.endpoint_url)
        .region(Region::new(env.region.clone()))
        .credentials_provider(Credentials::new(
            &env.access_key_id,
            &env.secret_access_key,
            env.session_token.clone(),
            None,
            "environment",
        ))
        .force_path_style(true)
        .http_client(s3_ops_testkit::http_client());
    S3Connection {
        client: Client::from_conf(configure(builder, &options).build()),
        endpoint: Endpoint::custom(&env.endpoint_url),
        server: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn breakers_and_retries_read_their_prefixes() {
        let base = StorageConfig::default();
        let config = storage_config_from_vars(
            base.clone(),
            lookup(&[
                ("S3_OPS_UPLOAD_OPEN_TIMEOUT", "5s"),
                ("S3_OPS_DOWNLOAD_MAX_ATTEMPTS", "5"),
            ]),
        )
        .unwrap();
        assert_eq!(config.upload_breaker.open_timeout, Duration::from_secs(5));
        assert_eq!(config.download_breaker, base.download_breaker);
        assert_eq!(config.download_retry.max_attempts, 5);
        assert_eq!(config.upload_retry.max_attempts, 3);
        let err = storage_config_from_vars(base, lookup(&[("S3_OPS_UPLOAD_OPEN_TIMEOUT", "5")]))
            .unwrap_err();
        assert_eq!(err.setting(), "S3_OPS_UPLOAD_OPEN_TIMEOUT");
    }

    #[test]
    fn no_endpoint_means_the_embedded_server() {
        assert_eq!(EnvConfig::from_lookup(lookup(&[])).unwrap(), None);
        assert_eq!(
            EnvConfig::from_lookup(lookup(&[(ENDPOINT_VAR, " ")])).unwrap(),
            None
        );
    }

    #[test]
    fn endpoint_with_credentials_and_defaults() {
        let env = EnvConfig::from_lookup(lookup(&[
            (ENDPOINT_VAR, "http://127.0.0.1:7480"),
            (ACCESS_KEY_VAR, "ak"),
            (SECRET_KEY_VAR, "sk"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(env.region, "us-east-1");
        assert_eq!(env.session_token, None);
        assert!(!env.checksums_when_required);
        assert!(!format!("{env:?}").contains("sk"), "{env:?}");
    }

    #[test]
    fn all_variables() {
        let env = EnvConfig::from_lookup(lookup(&[
            (ENDPOINT_VAR, "http://h:1"),
            (ACCESS_KEY_VAR, "ak"),
            (SECRET_KEY_VAR, "sk"),
            (SESSION_TOKEN_VAR, "tok"),
            (REGION_VAR, "eu-west-3"),
            (CHECKSUMS_VAR, "when_required"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(env.region, "eu-west-3");
        assert_eq!(env.session_token.as_deref(), Some("tok"));
        assert!(env.checksums_when_required);
        let connection = external(&env, &client_options());
        assert_eq!(connection.endpoint, Endpoint::custom("http://h:1"));
        assert_eq!(
            connection.client.config().region().map(|r| r.as_ref()),
            Some("eu-west-3")
        );
        assert!(connection.faults().is_none());
    }

    #[test]
    fn missing_secret_and_unknown_checksum_mode_are_errors() {
        let err = EnvConfig::from_lookup(lookup(&[
            (ENDPOINT_VAR, "http://h"),
            (ACCESS_KEY_VAR, "ak"),
        ]))
        .unwrap_err();
        assert!(matches!(err, SetupError::Missing(SECRET_KEY_VAR)), "{err}");
        let err = EnvConfig::from_lookup(lookup(&[
            (ENDPOINT_VAR, "http://h"),
            (ACCESS_KEY_VAR, "ak"),
            (SECRET_KEY_VAR, "sk"),
            (CHECKSUMS_VAR, "never"),
        ]))
        .unwrap_err();
        assert!(
            matches!(
                err,
                SetupError::Invalid {
                    name: CHECKSUMS_VAR,
                    ..
                }
            ),
            "{err}"
        );
    }
}
