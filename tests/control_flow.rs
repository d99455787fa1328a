//! Every way out of a body, run in both forms the attribute compiles a body to: inline (a
//! labeled block in the method, without `timeout`) and an `async` block (with `timeout`, or
//! when the body calls a macro the attribute cannot see into). Each body is written once and
//! annotated both ways; both must give the same result, run the body as often, and record the
//! same outcomes.
//!
//! Each body calls the probe once per attempt. A lucky probe fails twice with a retryable
//! error, then answers: the call succeeds on the third attempt. A hopeless probe always fails:
//! five calls of three attempts each, each call recorded as one error, and the fifth opens the
//! breaker. A way out that left the method instead of the attempt would end the call after one
//! attempt and record nothing.

use std::sync::atomic::{AtomicU32, Ordering};

use s3_ops_runtime::metrics::{self, OperationResult};
use s3_ops_runtime::{s3_operation, CircuitBreaker, CircuitState, S3Error};

/// The operation every method here reports as (no other test binary's).
const OP: &str = "put_object_acl";

fn slow_down() -> S3Error {
    S3Error::service("SlowDown", Some(503))
}

/// Counts the attempts that reach it; fails with `SlowDown` for the first `failures`.
struct Probe {
    tries: AtomicU32,
    failures: u32,
}

impl Probe {
    fn new(failures: u32) -> Self {
        Self {
            tries: AtomicU32::new(0),
            failures,
        }
    }

    fn tries(&self) -> u32 {
        self.tries.load(Ordering::SeqCst)
    }

    /// The attempt's number, or `SlowDown` while failures remain.
    async fn step(&self) -> Result<u32, S3Error> {
        let n = self.tries.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.failures {
            Err(slow_down())
        } else {
            Ok(n)
        }
    }
}

/// A user's own macro named like a logging one, hiding a `return`: the attribute cannot see
/// into it, so the body must not be inlined (its `return` would leave the method, skipping
/// the retry and the recorded outcome).
macro_rules! error {
    ($probe:expr) => {
        if $probe.step().await.is_err() {
            return Err(slow_down());
        }
    };
}

/// A user's own `write!`, shadowing the standard one, hiding a `?`.
macro_rules! write {
    ($probe:expr) => {
        $probe.step().await?
    };
}

/// Writes each body twice: in `inline_form::Svc` without `timeout` (inline where the attribute
/// can), in `async_block_form::Svc` with one (always an `async` block); and a test per body
/// that runs both with a lucky and a hopeless probe.
macro_rules! both_forms {
    ($( $(#[doc = $doc:literal])* fn $name:ident($probe:ident) $body:tt => $lucky:expr; )*) => {
        both_forms!(
            @form inline_form self (class = "upload", op = "put_object_acl", bucket = self.bucket)
            $( $(#[doc = $doc])* fn $name($probe) $body )*
        );
        both_forms!(
            @form async_block_form self
            (class = "upload", op = "put_object_acl", bucket = self.bucket, timeout = "1h")
            $( $(#[doc = $doc])* fn $name($probe) $body )*
        );

        $(
            #[tokio::test(start_paused = true)]
            async fn $name() {
                let inline = inline_form::Svc::new(stringify!($name));
                let block = async_block_form::Svc::new(stringify!($name));

                let lucky = Probe::new(2);
                let inline_lucky = inline.$name(&lucky).await.map_err(|e| e.to_string());
                let inline_lucky_tries = lucky.tries();
                let lucky = Probe::new(2);
                let block_lucky = block.$name(&lucky).await.map_err(|e| e.to_string());
                assert_eq!(inline_lucky, Ok($lucky), "inline");
                assert_eq!(block_lucky, Ok($lucky), "async block");
                assert_eq!((inline_lucky_tries, lucky.tries()), (3, 3), "attempts, both forms");

                let hopeless = [Probe::new(u32::MAX), Probe::new(u32::MAX)];
                for _ in 0..5 {
                    let inline_err = inline.$name(&hopeless[0]).await.unwrap_err();
                    let block_err = block.$name(&hopeless[1]).await.unwrap_err();
                    assert_eq!(inline_err.code(), Some("SlowDown"));
                    assert_eq!(block_err.code(), Some("SlowDown"));
                }
                assert_eq!(
                    (hopeless[0].tries(), hopeless[1].tries()),
                    (15, 15),
                    "three attempts per call, both forms"
                );

                for (form, svc_bucket, circuit) in [
                    ("inline", &inline.bucket, &inline.upload_circuit),
                    ("async block", &block.bucket, &block.upload_circuit),
                ] {
                    let count = |result| metrics::operations_total(OP, svc_bucket, result);
                    assert_eq!(
                        (count(OperationResult::Success), count(OperationResult::Error)),
                        (1, 5),
                        "{form}: one success, five errors recorded"
                    );
                    assert_eq!(circuit.state(), CircuitState::Open, "{form}: five failures recorded");
                }
            }
        )*
    };
    // `self` comes in with the arguments that name it: macro hygiene gives each expansion a
    // `self` of its own.
    (@form $form:ident $self_:ident $args:tt $( $(#[doc = $doc:literal])* fn $name:ident($probe:ident) $body:tt )*) => {
        mod $form {
            use super::*;

            pub(crate) struct Svc {
                pub(crate) bucket: String,
                pub(crate) upload_circuit: CircuitBreaker,
            }

            impl Svc {
                /// A service whose bucket label and breaker are this form's and this test's.
                pub(crate) fn new(test: &str) -> Self {
                    let name = format!("cf-{}-{test}", stringify!($form));
                    Self {
                        bucket: name.clone(),
                        upload_circuit: CircuitBreaker::new(name),
                    }
                }

                $(
                    $(#[doc = $doc])*
                    #[s3_operation $args]
                    pub(crate) async fn $name(&$self_, $probe: &Probe) -> Result<u32, S3Error> $body
                )*
            }
        }
    };
}

both_forms! {
    /// `?` on the awaited call.
    fn question_mark(probe) {
        let n = probe.step().await?;
        Ok(n)
    } => 3;

    /// An early `return` of the error.
    fn early_return(probe) {
        let step = probe.step().await;
        if step.is_err() {
            return Err(slow_down());
        }
        Ok(probe.tries() * 10)
    } => 30;

    /// `break` and `continue` of the body's own loops, a `?` in one, a `return` in another.
    fn loops_with_break_and_continue(probe) {
        let mut seen = 0;
        for i in 0..4u32 {
            if i == 0 {
                continue;
            }
            if i == 2 {
                break;
            }
            seen += i;
        }
        loop {
            seen += probe.step().await?;
            if seen > 1 {
                break;
            }
        }
        for i in 1..10u32 {
            if i * seen > 8 {
                return Ok(i * seen);
            }
        }
        Ok(0)
    } => 12;

    /// Labeled loops and a labeled block, with a `?` inside.
    fn labels(probe) {
        let mut n = 0;
        'outer: for round in 0..3u32 {
            'inner: for pass in 0..2u32 {
                if round == 0 {
                    continue 'outer;
                }
                if round == 1 {
                    break 'inner;
                }
                if pass == 0 {
                    continue 'inner;
                }
                n = probe.step().await?;
                break 'outer;
            }
        }
        let value = 'block: {
            if n > 2 {
                break 'block n * 10;
            }
            n
        };
        Ok(value)
    } => 30;

    /// A `?` in a `break` value.
    fn question_mark_in_a_break_value(probe) {
        let mut spins = 0;
        let n = loop {
            spins += 1;
            if spins > 1 {
                break probe.step().await?;
            }
        };
        Ok(n)
    } => 3;

    /// Closures whose `return` and `?` are their own.
    fn closures_with_return_and_question_mark(probe) {
        let scale = |x: u32| -> u32 {
            if x > 1 {
                return x * 100;
            }
            x
        };
        let checked = |x: u32| -> Result<u32, S3Error> {
            let y = Ok::<u32, S3Error>(x)?;
            Ok(y + 1)
        };
        let n = probe.step().await?;
        Ok(scale(checked(n)?))
    } => 400;

    /// An `async` block whose `?` and `return` are its own, awaited with a `?` of the body's.
    fn nested_async_block(probe) {
        let inner = async {
            let n = probe.step().await?;
            if n > 100 {
                return Ok::<u32, S3Error>(0);
            }
            Ok(n + 1)
        };
        let n = inner.await?;
        Ok(n)
    } => 4;

    /// A `let … else` whose `else` returns.
    fn let_else(probe) {
        let Ok(n) = probe.step().await else {
            return Err(slow_down());
        };
        Ok(n)
    } => 3;

    /// `return` in match arms.
    fn match_arms(probe) {
        let n = match probe.step().await {
            Ok(n) => n,
            Err(_) => return Err(slow_down()),
        };
        let doubled = match n {
            0 => return Ok(0),
            n => n * 2,
        };
        Ok(doubled)
    } => 6;

    /// A `?` that leads a statement which goes on after it.
    fn statement_led_by_a_question_mark(probe) {
        probe
            .step()
            .await?
            .to_string()
            .clone_into(&mut String::new());
        Ok(probe.tries())
    } => 3;

    /// Standard macros named from the crate root: inlined.
    fn std_macros_from_the_crate_root(probe) {
        let n = probe.step().await?;
        let text = ::std::format!("{n}");
        ::std::assert!(!text.is_empty());
        let mut digits = ::std::vec![text.len() as u32];
        digits.push(n);
        Ok(digits.iter().sum())
    } => 4;

    /// The same macros by bare name: they may be the user's own, so an `async` block.
    fn std_macros_by_bare_name(probe) {
        let n = probe.step().await?;
        let text = format!("{n}");
        assert!(!text.is_empty());
        let mut digits = vec![text.len() as u32];
        digits.push(n);
        Ok(digits.iter().sum())
    } => 4;

    /// A user's `error!` whose expansion returns the retryable error.
    fn user_macro_hiding_a_return(probe) {
        error!(probe);
        Ok(probe.tries())
    } => 3;

    /// A user's `write!` whose expansion holds a `?`.
    fn user_macro_hiding_a_question_mark(probe) {
        let n = write!(probe);
        Ok(n)
    } => 3;

    /// A user's macro hiding a `return` inside the body's own loop.
    fn user_macro_in_a_loop(probe) {
        let mut n = 0;
        for _ in 0..1 {
            error!(probe);
            n = probe.tries();
        }
        Ok(n)
    } => 3;
}
