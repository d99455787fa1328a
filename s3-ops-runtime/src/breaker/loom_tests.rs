//! Model checks of the breaker's lock-free paths under every interleaving loom can find.
//!
//! ```sh
//! RUSTFLAGS="--cfg s3_ops_loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p s3-ops-runtime --lib --release loom
//! ```
//!
//! The open timeout is zero in these models, so an open circuit is half-open at once whatever
//! the wall clock says: the schedule, not time, is what loom explores.

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::{BreakerConfig, BreakerOutcome as Outcome, CircuitBreaker, CircuitState};

fn half_open(max_probes: u32, success_threshold: u32) -> CircuitBreaker {
    let breaker = CircuitBreaker::with_config(
        "loom",
        BreakerConfig {
            failure_threshold: 2,
            success_threshold,
            open_timeout: Duration::ZERO,
            half_open_max_calls: max_probes,
            ..BreakerConfig::default()
        },
    );
    breaker.force_open();
    breaker
}

/// Half-open admission never exceeds `half_open_max_calls`, and probes that are dropped
/// without an outcome give their slots back: afterwards a probe is admitted again.
#[test]
fn loom_half_open_admission_is_bounded_and_slots_come_back() {
    loom::model(|| {
        let breaker = Arc::new(half_open(1, 2));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                let in_flight = in_flight.clone();
                thread::spawn(move || {
                    if let Ok(permit) = breaker.acquire() {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 1, "{now} probes in flight with 1 slot");
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert!(
            breaker.acquire().is_ok(),
            "a slot leaked: half-open is stuck"
        );
    });
}

/// Probes racing to report: one failure reopens, successes alone close; never stuck in
/// half-open with no probe in flight and no slot free.
#[test]
fn loom_racing_probe_outcomes_end_in_a_consistent_state() {
    loom::model(|| {
        let breaker = Arc::new(half_open(2, 2));
        // Tickets, the owned permits generated code uses, so they can move to threads.
        let first = breaker.admit().expect("first probe");
        let second = breaker.admit().expect("second probe");
        assert!(breaker.admit().is_err(), "both slots are taken");
        let a = {
            let breaker = breaker.clone();
            thread::spawn(move || first.settle(&breaker, Outcome::Success))
        };
        let b = {
            let breaker = breaker.clone();
            thread::spawn(move || second.settle(&breaker, Outcome::Failure))
        };
        a.join().unwrap();
        b.join().unwrap();
        // Whatever the order, the failure reopens the circuit (one success is not enough to
        // close it) and a success reported after that is from an old epoch and ignored. With a
        // zero open timeout the reopened circuit is half-open again with its slots free.
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert_eq!(breaker.stats().opened, 2);
        assert!(breaker.acquire().is_ok(), "a slot leaked");
    });
}

/// Concurrent failures of a closed circuit are all counted: none is lost between the lock-free
/// read and the locked update.
#[test]
fn loom_concurrent_failures_open_the_circuit() {
    loom::model(|| {
        let breaker = Arc::new(CircuitBreaker::with_config(
            "loom",
            BreakerConfig {
                failure_threshold: 2,
                open_timeout: Duration::from_secs(3600),
                ..BreakerConfig::default()
            },
        ));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || {
                    if let Ok(permit) = breaker.acquire() {
                        permit.failure();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Both were admitted while closed (nothing opened it before both acquired), or the
        // second was refused because the first had already opened it: open either way.
        assert_eq!(breaker.state(), CircuitState::Open);
    });
}

/// A success racing a failure on a closed circuit: the lock-free success path (no store when
/// there is nothing to forget) must not lose the failure's count.
#[test]
fn loom_success_fast_path_does_not_lose_a_failure() {
    loom::model(|| {
        let breaker = Arc::new(CircuitBreaker::with_config(
            "loom",
            BreakerConfig {
                failure_threshold: 2,
                open_timeout: Duration::from_secs(3600),
                ..BreakerConfig::default()
            },
        ));
        breaker.record_failure();
        let ok = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                // Refused when the racing failure has already opened the circuit.
                if let Ok(permit) = breaker.acquire() {
                    permit.success();
                }
            })
        };
        let failed = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.record_failure())
        };
        ok.join().unwrap();
        failed.join().unwrap();
        // The success (locked: it has a failure to forget) either reset the first failure
        // before the second (closed, 1 failure) or came after the circuit opened (an old epoch:
        // ignored, open). Both are outcomes of some sequential order.
        let state = breaker.state();
        assert!(matches!(state, CircuitState::Closed | CircuitState::Open));
        if state == CircuitState::Closed {
            breaker.record_failure();
            assert_eq!(
                breaker.state(),
                CircuitState::Open,
                "the racing failure was lost"
            );
        }
    });
}

/// A breaker with a closed circuit one failure short of opening, whose open timeout is an hour.
fn one_failure_short() -> CircuitBreaker {
    let breaker = CircuitBreaker::with_config(
        "loom",
        BreakerConfig {
            failure_threshold: 2,
            open_timeout: Duration::from_secs(3600),
            ..BreakerConfig::default()
        },
    );
    breaker.record_failure();
    breaker
}

/// `reconfigure` racing a failure: neither is lost. The failure counted before the race and the
/// racing one open the circuit under the old threshold and under the new (also 2), whatever
/// the order; a reconfiguration that reset the count would leave it closed.
#[test]
fn loom_reconfigure_loses_no_outcome() {
    loom::model(|| {
        let breaker = Arc::new(one_failure_short());
        let permit = breaker.admit().expect("closed");
        let failing = {
            let breaker = breaker.clone();
            thread::spawn(move || permit.settle(&breaker, Outcome::Failure))
        };
        let tuning = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                breaker.reconfigure(BreakerConfig {
                    failure_threshold: 2,
                    success_threshold: 3,
                    open_timeout: Duration::from_secs(7200),
                    ..BreakerConfig::default()
                })
            })
        };
        failing.join().unwrap();
        tuning.join().unwrap();
        assert_eq!(
            breaker.state(),
            CircuitState::Open,
            "the racing failure was lost"
        );
        assert_eq!(breaker.stats().opened, 1);
        assert_eq!(
            breaker.config().success_threshold,
            3,
            "the new thresholds were lost"
        );
    });
}

/// Two calls admitted while closed fail while the threshold is lowered: the circuit opens once.
/// The second failure reports to the closed state that admitted it, which the first one ended,
/// so it is ignored whether it comes before or after the new threshold.
#[test]
fn loom_reconfigure_does_not_open_twice() {
    loom::model(|| {
        let breaker = Arc::new(one_failure_short());
        let first = breaker.admit().expect("closed");
        let second = breaker.admit().expect("closed");
        let failures: Vec<_> = [first, second]
            .into_iter()
            .map(|ticket| {
                let breaker = breaker.clone();
                thread::spawn(move || ticket.settle(&breaker, Outcome::Failure))
            })
            .collect();
        let tuning = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                breaker.reconfigure(BreakerConfig {
                    failure_threshold: 1,
                    open_timeout: Duration::from_secs(3600),
                    ..BreakerConfig::default()
                })
            })
        };
        for t in failures {
            t.join().unwrap();
        }
        tuning.join().unwrap();
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.stats().opened, 1, "opened twice");
    });
}

/// An open circuit keeps the deadline it was given when the open timeout changes under it: a
/// call racing the change is refused (a zero timeout applied to it would half-open the
/// circuit at once), and the deadline reads the same before and after.
#[test]
fn loom_reconfigure_keeps_an_open_circuit_s_deadline() {
    loom::model(|| {
        let breaker = Arc::new(one_failure_short());
        breaker.record_failure();
        assert_eq!(breaker.state(), CircuitState::Open);
        let deadline = breaker.inner.open_until.load(Ordering::SeqCst);
        let caller = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.acquire().map(drop).is_err())
        };
        let tuning = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                breaker.reconfigure(BreakerConfig {
                    open_timeout: Duration::ZERO,
                    ..BreakerConfig::default()
                })
            })
        };
        assert!(
            caller.join().unwrap(),
            "a call went through an open circuit"
        );
        tuning.join().unwrap();
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(
            breaker.inner.open_until.load(Ordering::SeqCst),
            deadline,
            "the deadline moved"
        );
        assert_eq!(breaker.stats().opened, 1);
    });
}

/// Probes in flight when `half_open_max_calls` shrinks still give their slots back: once they
/// are done, a probe is admitted again.
#[test]
fn loom_reconfigure_while_probing_leaks_no_slot() {
    loom::model(|| {
        let breaker = Arc::new(half_open(2, 5));
        let first = breaker.admit().expect("first probe");
        let second = breaker.admit().expect("second probe");
        let done: Vec<_> = [(first, Outcome::Success), (second, Outcome::Release)]
            .into_iter()
            .map(|(ticket, outcome)| {
                let breaker = breaker.clone();
                thread::spawn(move || ticket.settle(&breaker, outcome))
            })
            .collect();
        breaker.reconfigure(BreakerConfig {
            failure_threshold: 2,
            success_threshold: 5,
            open_timeout: Duration::ZERO,
            half_open_max_calls: 1,
            ..BreakerConfig::default()
        });
        for t in done {
            t.join().unwrap();
        }
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        let probe = breaker.acquire().expect("a slot leaked");
        assert!(breaker.acquire().is_err(), "the new limit is one probe");
        drop(probe);
    });
}
