//! What `#[s3_operation]` does at run time, in the original recipe's test idioms: mocked S3 responses
//! (`aws-smithy-mocks`, a real `aws_sdk_s3::Client`), paused tokio time.
//!
//! Metrics are process-wide, so each test uses a bucket label of its own, and an operation whose
//! `s3_retry_attempts_total` (labelled by operation only) a test asserts is attempted by that
//! test alone: `put_object` (retry), `copy_object` (`&mut self`), `upload_part` (generic),
//! `head_object` (timeout). The other tests go through `get_object`, or fail fast.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_s3::operation::copy_object::CopyObjectOutput;
use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, Rule, RuleMode};
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::metrics::{self, OperationResult};
use s3_ops_runtime::{s3_operation, CircuitBreaker, CircuitState, S3Error};
use s3_ops_testkit::mock_client::{self, error_xml};

/// A real client whose HTTP layer answers from `rules`, configured as s3-ops recommends (SDK
/// retries off), so every request the SDK makes is one our loop asked for.
fn client(rules: &[&Rule]) -> Client {
    let (config, _) = mock_client::config(RuleMode::MatchAny, rules);
    Client::from_conf(configure(config, &ClientOptions::new()).build())
}

struct Storage {
    client: Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
    attempts_seen: u32,
}

impl Storage {
    fn new(client: Client, bucket: &str) -> Self {
        Self {
            client,
            bucket: bucket.to_owned(),
            upload_circuit: CircuitBreaker::new(format!("{bucket}-upload")),
            download_circuit: CircuitBreaker::new(format!("{bucket}-download")),
            attempts_seen: 0,
        }
    }

    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn upload_result(&self, job_id: &str, content: &str) -> Result<String, S3Error> {
        let key = format!("{job_id}.md");
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(content.as_bytes().to_vec().into())
            .send()
            .await?;
        Ok(key)
    }

    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket)]
    async fn download(&self, key: &str) -> Result<Vec<u8>, S3Error> {
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
    async fn delete_temp_file(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    /// `&mut self`: the body mutates the service and calls another `&mut self` method.
    #[s3_operation(class = "upload", op = "copy_object", bucket = self.bucket)]
    async fn copy_counting(&mut self, from: &str, to: &str) -> Result<u32, S3Error> {
        self.note_attempt();
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to)
            .send()
            .await?;
        Ok(self.attempts_seen)
    }

    fn note_attempt(&mut self) {
        self.attempts_seen += 1;
    }

    /// Generic, with a where clause.
    #[s3_operation(class = "upload", op = "upload_part", bucket = self.bucket)]
    async fn upload_part<K>(&self, key: K, part: i32) -> Result<i32, S3Error>
    where
        K: AsRef<str> + Send + Sync,
    {
        self.client
            .upload_part()
            .bucket(&self.bucket)
            .key(key.as_ref())
            .upload_id("upload-1")
            .part_number(part)
            .body(ByteStream::from_static(b"part"))
            .send()
            .await?;
        Ok(part)
    }

    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket)]
    async fn download_waiting(&self, gate: &tokio::sync::Notify) -> Result<(), S3Error> {
        gate.notified().await;
        Ok(())
    }

    #[s3_operation(class = "download", op = "head_object", bucket = self.bucket, timeout = "2s")]
    async fn head_slow_first(&self, key: &str, slow: &AtomicU32) -> Result<(), S3Error> {
        // The first attempt hangs past the 2 s limit; the retry goes through.
        if slow.fetch_add(1, Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn slow_down_twice_then_ok_makes_exactly_three_requests() {
    let put = mock!(Client::put_object)
        .sequence()
        .http_status(503, Some(error_xml("SlowDown", "injected")))
        .times(2)
        .output(|| PutObjectOutput::builder().build())
        .build();
    let storage = Storage::new(client(&[&put]), "behaviour-retry");

    let started = tokio::time::Instant::now();
    let key = storage.upload_result("job-1", "# result").await.unwrap();

    assert_eq!(key, "job-1.md");
    assert_eq!(put.num_calls(), 3);
    for attempt in 1..=3 {
        assert_eq!(metrics::retry_attempts_total("put_object", attempt), 1);
    }
    assert_eq!(metrics::retry_attempts_total("put_object", 4), 0);
    assert_eq!(
        metrics::operations_total("put_object", "behaviour-retry", OperationResult::Success),
        1
    );
    assert_eq!(
        metrics::operations_total("put_object", "behaviour-retry", OperationResult::Error),
        0
    );
    // Backoff 1 s then 2 s, each jittered into its upper half.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1500) && waited <= Duration::from_secs(3));
    // One success on the breaker, none of the attempts' failures.
    assert_eq!(storage.upload_circuit.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn five_recorded_failures_make_the_next_call_fail_fast_without_a_request() {
    let put = mock!(Client::put_object).then_output(|| PutObjectOutput::builder().build());
    let storage = Storage::new(client(&[&put]), "behaviour-open");
    for _ in 0..5 {
        storage.upload_circuit.record_failure();
    }

    let err = storage
        .upload_result("job-1", "# result")
        .await
        .unwrap_err();

    assert!(err.is_circuit_open(), "{err}");
    assert_eq!(
        err.circuit_open().unwrap().circuit(),
        "behaviour-open-upload"
    );
    assert_eq!(put.num_calls(), 0);
    let count = |result| metrics::operations_total("put_object", "behaviour-open", result);
    assert_eq!(count(OperationResult::CircuitOpen), 1);
    assert_eq!(count(OperationResult::Success), 0);
    assert_eq!(count(OperationResult::Error), 0);
}

#[tokio::test(start_paused = true)]
async fn cleanup_keeps_working_while_both_circuits_are_open() {
    let delete = mock!(Client::delete_object).then_output(|| DeleteObjectOutput::builder().build());
    let get = mock!(Client::get_object).then_output(|| GetObjectOutput::builder().build());
    let storage = Storage::new(client(&[&delete, &get]), "behaviour-cleanup");
    storage.upload_circuit.force_open();
    storage.download_circuit.force_open();

    assert!(storage.download("a").await.unwrap_err().is_circuit_open());
    storage.delete_temp_file("temp/a.pdf").await.unwrap();
    storage.delete_temp_file("temp/b.pdf").await.unwrap();

    assert_eq!(get.num_calls(), 0);
    assert_eq!(delete.num_calls(), 2);
    assert_eq!(
        metrics::operations_total(
            "delete_object",
            "behaviour-cleanup",
            OperationResult::Success
        ),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn cleanup_is_not_retried_by_default() {
    let delete = mock!(Client::delete_object)
        .sequence()
        .http_status(503, Some(error_xml("SlowDown", "injected")))
        .output(|| DeleteObjectOutput::builder().build())
        .build();
    let storage = Storage::new(client(&[&delete]), "behaviour-cleanup-once");

    let err = storage.delete_temp_file("temp/a.pdf").await.unwrap_err();

    assert_eq!(err.code(), Some("SlowDown"));
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn mut_self_method_retries_and_keeps_its_mutations() {
    let copy = mock!(Client::copy_object)
        .sequence()
        .http_status(500, Some(error_xml("InternalError", "injected")))
        .output(|| CopyObjectOutput::builder().build())
        .build();
    let mut storage = Storage::new(client(&[&copy]), "behaviour-mut");

    let seen = storage.copy_counting("a", "b").await.unwrap();

    assert_eq!(
        seen, 2,
        "the body ran once per attempt, mutating self each time"
    );
    assert_eq!(copy.num_calls(), 2);
    assert_eq!(metrics::retry_attempts_total("copy_object", 2), 1);
}

#[tokio::test(start_paused = true)]
async fn generic_method_retries() {
    let part = mock!(Client::upload_part)
        .sequence()
        .http_status(503, Some(error_xml("ServiceUnavailable", "injected")))
        .output(|| UploadPartOutput::builder().e_tag("etag").build())
        .build();
    let storage = Storage::new(client(&[&part]), "behaviour-generic");

    assert_eq!(
        storage
            .upload_part(String::from("big.bin"), 7)
            .await
            .unwrap(),
        7
    );
    assert_eq!(part.num_calls(), 2);
    assert_eq!(metrics::retry_attempts_total("upload_part", 2), 1);
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_not_retried_and_never_open_the_breaker() {
    let get = mock!(Client::get_object)
        .sequence()
        .http_status(404, Some(error_xml("NoSuchKey", "injected")))
        .repeatedly()
        .build();
    let storage = Storage::new(client(&[&get]), "behaviour-404");

    for _ in 0..20 {
        let err = storage.download("missing").await.unwrap_err();
        assert_eq!(err.code(), Some("NoSuchKey"));
        assert_eq!(err.status(), Some(404));
    }

    assert_eq!(get.num_calls(), 20, "one request per call: not retried");
    assert_eq!(storage.download_circuit.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn transient_failures_open_the_breaker_after_five_calls_not_five_attempts() {
    let get = mock!(Client::get_object)
        .sequence()
        .http_status(503, Some(error_xml("SlowDown", "injected")))
        .repeatedly()
        .build();
    let storage = Storage::new(client(&[&get]), "behaviour-trip");

    for call in 1..=5 {
        assert_eq!(
            storage.download_circuit.state(),
            CircuitState::Closed,
            "call {call}"
        );
        let err = storage.download("k").await.unwrap_err();
        assert_eq!(err.code(), Some("SlowDown"));
    }

    assert_eq!(get.num_calls(), 15, "3 attempts for each of 5 calls");
    assert_eq!(storage.download_circuit.state(), CircuitState::Open);
    assert!(storage.download("k").await.unwrap_err().is_circuit_open());
    assert_eq!(get.num_calls(), 15);
    let count = |result| metrics::operations_total("get_object", "behaviour-trip", result);
    assert_eq!(count(OperationResult::Error), 5);
    assert_eq!(count(OperationResult::CircuitOpen), 1);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_past_its_timeout_is_retried() {
    let head = mock!(Client::head_object).then_output(|| HeadObjectOutput::builder().build());
    let storage = Storage::new(client(&[&head]), "behaviour-timeout");
    let slow = AtomicU32::new(0);

    storage.head_slow_first("k", &slow).await.unwrap();

    assert_eq!(slow.load(Ordering::SeqCst), 2);
    assert_eq!(
        head.num_calls(),
        1,
        "the timed-out attempt never sent its request"
    );
    assert_eq!(metrics::retry_attempts_total("head_object", 2), 1);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_half_open_probe_frees_its_slot() {
    let get = mock!(Client::get_object)
        .sequence()
        .output(|| GetObjectOutput::builder().build())
        .repeatedly()
        .build();
    let storage = Storage::new(client(&[&get]), "behaviour-cancel");
    storage.download_circuit.force_open();
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(storage.download_circuit.state(), CircuitState::HalfOpen);

    // The probe waits on a gate that never opens; its caller gives up after 1 ms.
    let gate = tokio::sync::Notify::new();
    let mut probe = Box::pin(storage.download_waiting(&gate));
    assert!(tokio::time::timeout(Duration::from_millis(1), &mut probe)
        .await
        .is_err());
    // While the probe is in flight it holds the only slot: other calls fail fast.
    assert!(storage.download("k").await.unwrap_err().is_circuit_open());
    assert_eq!(get.num_calls(), 0);

    drop(probe);

    // The slot is free again: the next call is the probe, and two successes close the circuit.
    storage.download("k").await.unwrap();
    assert_eq!(storage.download_circuit.state(), CircuitState::HalfOpen);
    storage.download("k").await.unwrap();
    assert_eq!(storage.download_circuit.state(), CircuitState::Closed);
    assert_eq!(get.num_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotated_futures_can_be_spawned() {
    let get = mock!(Client::get_object)
        .sequence()
        .output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(b"bytes"))
                .build()
        })
        .repeatedly()
        .build();
    let storage = std::sync::Arc::new(Storage::new(client(&[&get]), "behaviour-spawn"));

    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let storage = storage.clone();
            tokio::spawn(async move { storage.download(&format!("doc-{i}")).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), b"bytes");
    }

    assert_eq!(get.num_calls(), 8);
    assert_eq!(
        metrics::operations_total("get_object", "behaviour-spawn", OperationResult::Success),
        8
    );
}

/// The body's ways out, each in the form the attribute compiles it to: inline (`?`, `return`,
/// the body's own loops, a `?` on a struct literal) or in an `async` block (a macro that may
/// hide a `return`). Each method fails twice with a transient error, then succeeds: a way out
/// that left the method instead of the attempt would end the call after one attempt.
mod control_flow {
    use super::*;

    fn slow_down() -> S3Error {
        S3Error::service("SlowDown", Some(503))
    }

    fn third_time_lucky(tries: &AtomicU32) -> Result<u32, S3Error> {
        let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
        if n < 3 {
            Err(slow_down())
        } else {
            Ok(n)
        }
    }

    /// Expands to a `return` the macro cannot see: the body must run as an `async` block.
    macro_rules! fail_early {
        ($tries:expr) => {
            if $tries.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(slow_down());
            }
        };
    }

    struct Probe {
        tries: AtomicU32,
    }

    impl Probe {
        fn tries(&self) -> u32 {
            self.tries.load(Ordering::SeqCst)
        }

        async fn fallible(&self) -> Result<u32, S3Error> {
            third_time_lucky(&self.tries)
        }
    }

    struct Svc {
        upload_circuit: CircuitBreaker,
    }

    impl Svc {
        #[s3_operation(class = "upload", op = "put_object_acl")]
        async fn question_mark(&self, probe: &Probe) -> Result<u32, S3Error> {
            let n = probe.fallible().await?;
            Ok(n * 10)
        }

        #[s3_operation(class = "upload", op = "put_object_acl")]
        async fn early_return(&self, probe: &Probe) -> Result<u32, S3Error> {
            if probe.tries.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(slow_down());
            }
            Ok(probe.tries())
        }

        /// `return` and `?` from inside the body's own loop end the attempt; `break` ends the
        /// loop; a closure's `return` is the closure's.
        #[s3_operation(class = "upload", op = "put_object_acl")]
        async fn inside_loops(&self, probe: &Probe) -> Result<u32, S3Error> {
            let doubled: Vec<u32> = [1, 2]
                .iter()
                .map(|x| {
                    if *x > 1 {
                        return x * 2;
                    }
                    *x
                })
                .collect();
            let mut sum = 0;
            for x in doubled {
                if x > 100 {
                    break;
                }
                sum += x;
                if sum > 2 {
                    probe.fallible().await?;
                    return Ok(sum);
                }
            }
            Ok(sum)
        }

        /// A `?` and a `return` inside a nested `async` block are the block's own.
        #[s3_operation(class = "upload", op = "put_object_acl")]
        async fn nested_async(&self, probe: &Probe) -> Result<u32, S3Error> {
            let inner: Result<u32, S3Error> = async {
                let n = probe.fallible().await?;
                if n > 0 {
                    return Ok(n + 1);
                }
                Ok(n)
            }
            .await;
            let outer = inner.unwrap_or(0);
            Ok(outer)
        }

        #[s3_operation(class = "upload", op = "put_object_acl")]
        async fn hidden_return(&self, probe: &Probe) -> Result<u32, S3Error> {
            fail_early!(probe.tries);
            Ok(probe.tries())
        }

        /// Starts with a `?` expression and goes on: rewritten it would parse apart.
        #[s3_operation(class = "upload", op = "put_object_acl")]
        async fn statement_led_by_question_mark(&self, probe: &Probe) -> Result<u32, S3Error> {
            let mut seen = Vec::new();
            probe
                .fallible()
                .await?
                .to_string()
                .clone_into(&mut String::new());
            seen.push(probe.tries());
            Ok(seen[0])
        }

        #[s3_operation(class = "upload", op = "put_object_acl")]
        async fn struct_literal_operand(&self, tries: &AtomicU32) -> Result<u32, S3Error> {
            let probe = Probe {
                tries: AtomicU32::new(tries.fetch_add(1, Ordering::SeqCst)),
            };
            let n = Probe {
                tries: AtomicU32::new(probe.tries()),
            }
            .fallible()
            .await?;
            Ok(n)
        }
    }

    fn service() -> Svc {
        Svc {
            upload_circuit: CircuitBreaker::new("control-flow-upload"),
        }
    }

    fn probe() -> Probe {
        Probe {
            tries: AtomicU32::new(0),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn question_mark_ends_the_attempt_not_the_method() {
        let probe = probe();
        assert_eq!(service().question_mark(&probe).await.unwrap(), 30);
        assert_eq!(probe.tries(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn early_return_ends_the_attempt_not_the_method() {
        let probe = probe();
        assert_eq!(service().early_return(&probe).await.unwrap(), 3);
        assert_eq!(probe.tries(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn ways_out_of_the_bodys_own_loops_and_closures_keep_their_meaning() {
        let probe = probe();
        // [1, 2] doubled where > 1: [1, 4]; the sum passes 2 at 5, where `?` fails twice.
        assert_eq!(service().inside_loops(&probe).await.unwrap(), 5);
        assert_eq!(probe.tries(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_nested_async_blocks_question_mark_is_its_own() {
        let probe = probe();
        // The inner block's error is swallowed by `unwrap_or`: one attempt, no retry.
        assert_eq!(service().nested_async(&probe).await.unwrap(), 0);
        assert_eq!(probe.tries(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_return_hidden_in_a_macro_ends_the_attempt_not_the_method() {
        let probe = probe();
        assert_eq!(service().hidden_return(&probe).await.unwrap(), 3);
        assert_eq!(probe.tries(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_statement_led_by_a_question_mark_ends_the_attempt() {
        let probe = probe();
        assert_eq!(
            service()
                .statement_led_by_question_mark(&probe)
                .await
                .unwrap(),
            3
        );
        assert_eq!(probe.tries(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_question_mark_on_a_struct_literal_ends_the_attempt() {
        let tries = AtomicU32::new(0);
        // Each attempt starts a fresh probe at the attempt's number: 0 and 1 fail, 2 succeeds.
        assert_eq!(service().struct_literal_operand(&tries).await.unwrap(), 3);
        assert_eq!(tries.load(Ordering::SeqCst), 3);
    }
}
