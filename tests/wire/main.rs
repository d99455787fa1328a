//! Wire-level tests: the resilience promises of s3-ops proved over the real S3 wire protocol
//! (HTTP, SigV4, XML errors, dropped connections, bodies cut short), with the example's
//! services and a few small annotated services of its own.
//!
//! ```text
//! cargo test -p s3-ops-tests --test wire                      # embedded servers
//! S3_OPS_TEST_ENDPOINT=http://127.0.0.1:5055 S3_OPS_TEST_ACCESS_KEY=testing \
//!   S3_OPS_TEST_SECRET_KEY=testing S3_OPS_TEST_SERVER=moto \
//!   cargo test -p s3-ops-tests --test wire                    # and a third-party server
//! ```
//!
//! - [`target`]: where each test runs (embedded server, or the server the environment names),
//!   client-side request counting, per-test buckets removed at the end.
//! - [`scenarios`]: the original recipe's retry and breaker scenarios, faults injected at the wire
//!   (embedded server in both modes).
//! - [`nothing_lost`]: random uploads under faults read back byte for byte; cut bodies.
//! - [`metrics`]: the Prometheus exposition after a scripted scenario.
//! - [`third_party`]: the example's services round trip, open circuits and cleanup, on the
//!   selected server.
//!
//! # Rules for tests in this binary (metrics are process-wide)
//!
//! Every test runs in this one process and the metrics are global, so:
//!
//! - each test's annotated calls use buckets of its own (`Wire::bucket_name` makes them
//!   unique), so `s3_operations_total` and `s3_operation_duration_seconds`, labelled by bucket,
//!   are per test; breakers are named after their bucket for the same reason (the example's
//!   `s3-upload` / `s3-download` breakers share a name: assert no gauge of theirs);
//! - `s3_retry_attempts_total` is labelled by operation only: a test that asserts its exact
//!   counts must be the only one here calling that operation through an annotated method.
//!   `copy_object` belongs to [`metrics`]; every other test uses `put_object`,
//!   `get_object`, `head_object`, `head_bucket`, `create_bucket`, `list_objects_v2`,
//!   `delete_object` and `delete_objects`, and asserts no attempt counts.

mod metrics;
mod nothing_lost;
mod scenarios;
mod services;
mod target;
mod third_party;
