//! `CircuitBreaker` against a small reference model of the original recipe's state machine, over random
//! sequences of calls, outcomes and clock advances (proptest).
//!
//! The model is deliberately naive — one enum, every decision spelled out — so that it can be
//! checked by reading it against the documented rules:
//!
//! - closed: `failure_threshold` consecutive failures open it; a success forgets the failures;
//! - open: refuses calls, reporting the time left, until `open_timeout` after it opened;
//! - half-open (from then on, without any call): admits `half_open_max_calls` probes at once,
//!   `success_threshold` successes close it, any failure reopens it with a new deadline;
//! - new thresholds (`reconfigure`) apply from the next outcome on, in whatever state the circuit
//!   is: an open circuit keeps its deadline, counts and probes in flight are kept;
//! - a call reports to the state it was admitted in: if the circuit has changed state since,
//!   its outcome is ignored (late failures do not extend the deadline); a permit dropped
//!   without an outcome only frees its probe slot.

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use s3_ops_runtime::{BreakerConfig, CircuitBreaker, CircuitState, Permit};
use tokio::time::advance;

type Nanos = u64;
const MS: Nanos = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Drop,
}

#[derive(Clone, Debug)]
enum Op {
    /// Acquire, then settle at once (when admitted).
    Call(Outcome),
    /// Acquire and keep the permit: a call in flight.
    Hold,
    /// Settle the held permit at this index (modulo the number held).
    Settle(usize, Outcome),
    RecordSuccess,
    RecordFailure,
    ForceOpen,
    AdvanceMs(u64),
    /// Advance by exactly `open_timeout`.
    AdvanceTimeout,
    /// Advance to exactly the open deadline (nothing when not open).
    AdvanceToDeadline,
    /// Advance to 1 ms before the open deadline (nothing when not open).
    AdvanceToJustBefore,
    /// New thresholds, while calls may be in flight.
    Reconfigure(BreakerConfig),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ModelState {
    Closed { failures: u32 },
    Open { until: Nanos },
    HalfOpen { probes: u32, successes: u32 },
}

#[derive(Clone, Copy, Debug)]
struct ModelPermit {
    /// Which state entry admitted it.
    period: u64,
    probe: bool,
}

#[derive(Debug)]
struct Model {
    config: BreakerConfig,
    state: ModelState,
    period: u64,
    now: Nanos,
}

impl Model {
    fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: ModelState::Closed { failures: 0 },
            period: 0,
            now: 0,
        }
    }

    fn timeout(&self) -> Nanos {
        self.config.open_timeout.as_nanos() as Nanos
    }

    fn enter(&mut self, state: ModelState) {
        self.state = state;
        self.period += 1;
    }

    fn open(&mut self) {
        self.enter(ModelState::Open {
            until: self.now + self.timeout(),
        });
    }

    /// The half-open transition happens with time alone.
    fn tick(&mut self) {
        if let ModelState::Open { until } = self.state {
            if self.now >= until {
                self.enter(ModelState::HalfOpen {
                    probes: 0,
                    successes: 0,
                });
            }
        }
    }

    fn state(&self) -> CircuitState {
        match self.state {
            ModelState::Closed { .. } => CircuitState::Closed,
            ModelState::Open { until } if self.now < until => CircuitState::Open,
            ModelState::Open { .. } | ModelState::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// `Err(time left)` when refused.
    fn acquire(&mut self) -> Result<ModelPermit, Nanos> {
        self.tick();
        let period = self.period;
        match &mut self.state {
            ModelState::Closed { .. } => Ok(ModelPermit {
                period,
                probe: false,
            }),
            ModelState::Open { until } => Err(*until - self.now),
            ModelState::HalfOpen { probes, .. } => {
                if *probes < self.config.half_open_max_calls {
                    *probes += 1;
                    Ok(ModelPermit {
                        period,
                        probe: true,
                    })
                } else {
                    Err(0)
                }
            }
        }
    }

    /// What `acquire` would answer, without taking a slot.
    fn would_admit(&self) -> Result<(), Nanos> {
        match self.state {
            ModelState::Closed { .. } => Ok(()),
            ModelState::Open { until } if self.now < until => Err(until - self.now),
            ModelState::Open { .. } => Ok(()),
            ModelState::HalfOpen { probes, .. } if probes < self.config.half_open_max_calls => {
                Ok(())
            }
            ModelState::HalfOpen { .. } => Err(0),
        }
    }

    fn settle(&mut self, permit: ModelPermit, outcome: Outcome) {
        self.tick();
        if permit.period != self.period {
            return;
        }
        if permit.probe {
            if let ModelState::HalfOpen { probes, .. } = &mut self.state {
                *probes -= 1;
            }
        }
        match outcome {
            Outcome::Success => self.success(),
            Outcome::Failure => self.failure(),
            Outcome::Drop => {}
        }
    }

    fn success(&mut self) {
        self.tick();
        match &mut self.state {
            ModelState::Closed { failures } => *failures = 0,
            ModelState::HalfOpen { successes, .. } => {
                *successes += 1;
                if *successes >= self.config.success_threshold {
                    self.enter(ModelState::Closed { failures: 0 });
                }
            }
            ModelState::Open { .. } => {}
        }
    }

    fn failure(&mut self) {
        self.tick();
        match &mut self.state {
            ModelState::Closed { failures } => {
                *failures += 1;
                if *failures >= self.config.failure_threshold {
                    self.open();
                }
            }
            ModelState::HalfOpen { .. } => self.open(),
            ModelState::Open { .. } => {}
        }
    }

    fn time_to_deadline(&self) -> Option<Nanos> {
        match self.state {
            ModelState::Open { until } if until > self.now => Some(until - self.now),
            _ => None,
        }
    }
}

fn settle_real(permit: Permit<'_>, outcome: Outcome) {
    match outcome {
        Outcome::Success => permit.success(),
        Outcome::Failure => permit.failure(),
        Outcome::Drop => drop(permit),
    }
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Failure),
        Just(Outcome::Drop)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => outcome().prop_map(Op::Call),
        2 => Just(Op::Hold),
        2 => (any::<usize>(), outcome()).prop_map(|(i, o)| Op::Settle(i, o)),
        1 => Just(Op::RecordSuccess),
        2 => Just(Op::RecordFailure),
        1 => Just(Op::ForceOpen),
        2 => (0u64..150_000).prop_map(Op::AdvanceMs),
        1 => Just(Op::AdvanceTimeout),
        1 => Just(Op::AdvanceToDeadline),
        1 => Just(Op::AdvanceToJustBefore),
        1 => config().prop_map(Op::Reconfigure),
    ]
}

fn config() -> impl Strategy<Value = BreakerConfig> {
    (1u32..=6, 1u32..=3, 1u64..=120_000, 1u32..=3).prop_map(
        |(failure_threshold, success_threshold, timeout_ms, half_open_max_calls)| BreakerConfig {
            failure_threshold,
            success_threshold,
            open_timeout: Duration::from_millis(timeout_ms),
            half_open_max_calls,
            ..BreakerConfig::default()
        },
    )
}

/// Runs `ops` on a real breaker and on the model, comparing after every step.
async fn check(config: BreakerConfig, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let breaker = CircuitBreaker::with_config("model", config.clone());
    let mut model = Model::new(config);
    let mut held: Vec<(Permit<'_>, ModelPermit)> = Vec::new();

    for (step, op) in ops.into_iter().enumerate() {
        let mut advance_by: Option<Nanos> = None;
        match op {
            Op::Call(outcome) => {
                let real = breaker.acquire();
                let expected = model.acquire();
                match (real, expected) {
                    (Ok(permit), Ok(model_permit)) => {
                        prop_assert_eq!(permit.is_probe(), model_permit.probe, "step {}", step);
                        settle_real(permit, outcome);
                        model.settle(model_permit, outcome);
                    }
                    (Err(refused), Err(left)) => {
                        prop_assert_eq!(refused.retry_after(), Duration::from_nanos(left));
                    }
                    (real, expected) => prop_assert!(
                        false,
                        "step {}: acquire {:?}, model {:?}",
                        step,
                        real.map(|_| ()),
                        expected.map(|_| ())
                    ),
                }
            }
            Op::Hold => match (breaker.acquire(), model.acquire()) {
                (Ok(permit), Ok(model_permit)) => {
                    prop_assert_eq!(permit.is_probe(), model_permit.probe, "step {}", step);
                    held.push((permit, model_permit));
                }
                (Err(_), Err(_)) => {}
                (real, expected) => prop_assert!(
                    false,
                    "step {}: acquire {:?}, model {:?}",
                    step,
                    real.map(|_| ()),
                    expected.map(|_| ())
                ),
            },
            Op::Settle(index, outcome) => {
                if !held.is_empty() {
                    let (permit, model_permit) = held.swap_remove(index % held.len());
                    settle_real(permit, outcome);
                    model.settle(model_permit, outcome);
                }
            }
            Op::RecordSuccess => {
                breaker.record_success();
                model.success();
            }
            Op::RecordFailure => {
                breaker.record_failure();
                model.failure();
            }
            Op::ForceOpen => {
                breaker.force_open();
                model.tick();
                model.open();
            }
            Op::Reconfigure(config) => {
                breaker.reconfigure(config.clone());
                model.config = config;
            }
            Op::AdvanceMs(ms) => advance_by = Some(ms * MS),
            Op::AdvanceTimeout => advance_by = Some(model.timeout()),
            Op::AdvanceToDeadline => advance_by = model.time_to_deadline(),
            Op::AdvanceToJustBefore => {
                advance_by = model.time_to_deadline().map(|left| left - MS);
            }
        }
        if let Some(nanos) = advance_by {
            advance(Duration::from_nanos(nanos)).await;
            model.now += nanos;
        }

        prop_assert_eq!(breaker.state(), model.state(), "step {}: {:?}", step, model);
        // Whether a call would be admitted now; the probe is dropped at once, which frees its
        // slot and records nothing, so the check leaves both sides as they were.
        let admitted = breaker.acquire().map(drop).map_err(|r| r.retry_after());
        let expected = model.would_admit().map_err(Duration::from_nanos);
        prop_assert_eq!(admitted, expected, "step {}: {:?}", step, model);
    }
    drop(held);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_breaker_behaves_like_the_reference_model(
        config in config(),
        ops in vec(op(), 1..120),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime");
        runtime.block_on(check(config, ops))?;
    }

    #[test]
    fn the_default_breaker_behaves_like_the_reference_model(ops in vec(op(), 1..200)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime");
        runtime.block_on(check(BreakerConfig::default(), ops))?;
    }
}
