//! The circuit breaker: fail fast while S3 is down instead of queueing retries behind it.
//!
//! The seed's thresholds are the defaults: five consecutive failures open the circuit for 60 s;
//! then one probe at a time is let through, and two successful probes close it again while any
//! probe failure reopens it.
//!
//! The closed path is lock-free: admitting a call is one atomic load, and recording a success
//! stores nothing unless there are failures to forget. Transitions take a short lock that is
//! never held across an `.await`. Time comes from `tokio::time`, so
//! `#[tokio::test(start_paused = true)]` makes the open timeout instant in tests.

#[cfg(all(test, s3_ops_loom))]
mod loom_tests;
mod machine;

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{CircuitName, CircuitOpen};
use crate::sync::{lock, Arc, AtomicU64, Mutex, Ordering};
use machine::{Admission, Machine, Nanos, Outcome, Transitions, Word};

pub(crate) use machine::Outcome as BreakerOutcome;

/// Thresholds of a [`CircuitBreaker`]; `Default` gives the seed's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed circuit (default 5).
    pub failure_threshold: u32,
    /// Successful half-open probes that close the circuit (default 2).
    pub success_threshold: u32,
    /// How long an open circuit fails fast before it half-opens (default 60 s). Fixed when the
    /// circuit opens: failures of calls already in flight do not extend it.
    pub open_timeout: Duration,
    /// Probes allowed in flight at once while half-open (default 1).
    pub half_open_max_calls: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            success_threshold: 2,
            open_timeout: Duration::from_secs(60),
            half_open_max_calls: 1,
        }
    }
}

impl BreakerConfig {
    fn check(&self) -> Result<(), &'static str> {
        if self.failure_threshold == 0 {
            return Err("`failure_threshold` must be at least 1");
        }
        if self.success_threshold == 0 {
            return Err("`success_threshold` must be at least 1");
        }
        if self.half_open_max_calls == 0 {
            return Err("`half_open_max_calls` must be at least 1, or the circuit never closes");
        }
        Ok(())
    }
}

/// The state of a circuit, as the `s3_circuit_breaker_state` gauge reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CircuitState {
    /// Calls go through (gauge value 0).
    Closed = 0,
    /// The open timeout has elapsed: probes go through, others fail fast (gauge value 1).
    HalfOpen = 1,
    /// Calls fail fast without a request (gauge value 2).
    Open = 2,
}

impl CircuitState {
    /// `"closed"`, `"half_open"` or `"open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::HalfOpen => "half_open",
            CircuitState::Open => "open",
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often a breaker has changed state since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerStats {
    /// Transitions into `Open` (from closed, or from a failed probe).
    pub opened: u64,
    /// Transitions into `HalfOpen`, counted when the first call (or record) after the open
    /// timeout takes the circuit half-open; [`CircuitBreaker::state`] and the gauge read
    /// half-open from the deadline on.
    pub half_opened: u64,
    /// Transitions into `Closed` (recoveries and resets).
    pub closed: u64,
}

/// A circuit breaker guarding one class of S3 calls.
///
/// Cloning gives another handle to the same breaker. Breakers report their state in the
/// `s3_circuit_breaker_state{circuit_name}` gauge for as long as one handle lives.
///
/// ```
/// use s3_ops_runtime::{CircuitBreaker, CircuitState};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let circuit = CircuitBreaker::new("s3-upload");
/// for _ in 0..5 {
///     circuit.record_failure();
/// }
/// assert_eq!(circuit.state(), CircuitState::Open);
/// let refused = circuit.acquire().unwrap_err();
/// assert_eq!(refused.circuit(), "s3-upload");
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    name: CircuitName,
    config: BreakerConfig,
    base: Instant,
    /// `Machine::word()` of the last transition, for lock-free readers.
    word: AtomicU64,
    /// `Machine::open_until()`, stored before `word` so a reader that sees `Open` sees its
    /// deadline.
    open_until: AtomicU64,
    machine: Mutex<Machine>,
}

impl CircuitBreaker {
    /// A breaker with the seed's thresholds ([`BreakerConfig::default`]).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self::with_config(name, BreakerConfig::default())
    }

    /// A breaker with thresholds of your own.
    ///
    /// # Panics
    ///
    /// When a threshold or `half_open_max_calls` is zero.
    pub fn with_config(name: impl Into<Cow<'static, str>>, config: BreakerConfig) -> Self {
        let name = name.into();
        if let Err(problem) = config.check() {
            panic!("invalid `BreakerConfig` for circuit `{name}`: {problem}");
        }
        let machine = Machine::new();
        let inner = Arc::new(Inner {
            name: name.into(),
            word: AtomicU64::new(machine.word().0),
            open_until: AtomicU64::new(machine.open_until()),
            machine: Mutex::new(machine),
            base: Instant::now(),
            config,
        });
        #[cfg(not(s3_ops_loom))]
        crate::metrics::store::register_breaker(&inner);
        Self { inner }
    }

    /// The name given at creation; the `circuit_name` label of the state gauge.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The thresholds in use.
    pub fn config(&self) -> &BreakerConfig {
        &self.inner.config
    }

    /// The current state. An open circuit whose timeout has elapsed reads as `HalfOpen`.
    pub fn state(&self) -> CircuitState {
        self.inner.state()
    }

    /// How often the breaker has changed state.
    pub fn stats(&self) -> BreakerStats {
        let counts = lock(&self.inner.machine).counts;
        BreakerStats {
            opened: counts.opened,
            half_opened: counts.half_opened,
            closed: counts.closed,
        }
    }

    /// Asks to make one call. Record its outcome with [`Permit::success`] or
    /// [`Permit::failure`]; a permit dropped without either (a cancelled future) records nothing
    /// and frees its half-open slot.
    ///
    /// # Errors
    ///
    /// [`CircuitOpen`] while the circuit is open, or half-open with every probe slot taken.
    #[inline]
    pub fn acquire(&self) -> Result<Permit<'_>, CircuitOpen> {
        Ok(Permit {
            breaker: self,
            ticket: self.admit()?,
        })
    }

    /// Records a success without a permit (the seed's `record_success`).
    pub fn record_success(&self) {
        self.inner.step(|m, cfg, now| m.record_success(cfg, now));
    }

    /// Records a failure without a permit (the seed's `record_failure`).
    pub fn record_failure(&self) {
        self.inner.step(|m, cfg, now| m.record_failure(cfg, now));
    }

    /// Closes the circuit and forgets its failures; outcomes of calls admitted before the reset
    /// are ignored.
    pub fn reset(&self) {
        self.inner.step(|m, _, _| m.reset());
    }

    /// Opens the circuit now, for the configured open timeout (maintenance, tests).
    pub fn force_open(&self) {
        self.inner.step(|m, cfg, now| m.force_open(cfg, now));
    }

    /// The admission behind both [`acquire`](Self::acquire) and the generated code. The closed
    /// path is one atomic load and does not read the clock.
    #[inline]
    pub(crate) fn admit(&self) -> Result<Ticket, CircuitOpen> {
        let word = Word(self.inner.word.load(Ordering::Acquire));
        if word.state() == CircuitState::Closed {
            return Ok(Ticket::Closed {
                epoch: word.epoch(),
            });
        }
        self.admit_not_closed(word)
    }

    #[inline(never)]
    fn admit_not_closed(&self, word: Word) -> Result<Ticket, CircuitOpen> {
        let inner = &self.inner;
        let now = inner.now();
        if word.state() == CircuitState::Open {
            // Failing fast before the deadline needs no lock.
            let until = inner.open_until.load(Ordering::Acquire);
            if now < until {
                return Err(inner.refusal(until - now));
            }
        }
        let (admission, transitions) = {
            let mut machine = lock(&inner.machine);
            let result = machine.acquire(&inner.config, now);
            inner.publish(&machine);
            result
        };
        inner.log(transitions);
        match admission {
            Ok(Admission {
                epoch,
                probe: false,
            }) => Ok(Ticket::Closed { epoch }),
            Ok(Admission { epoch, probe: true }) => Ok(Ticket::Probe(ProbeSlot {
                inner: Arc::clone(inner),
                epoch,
                settled: false,
            })),
            Err(left) => Err(inner.refusal(left)),
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Inner {
    fn now(&self) -> Nanos {
        let elapsed = Instant::now().saturating_duration_since(self.base);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn state(&self) -> CircuitState {
        let word = Word(self.word.load(Ordering::Acquire));
        match word.state() {
            CircuitState::Open if self.now() >= self.open_until.load(Ordering::Acquire) => {
                CircuitState::HalfOpen
            }
            state => state,
        }
    }

    fn refusal(&self, left: Nanos) -> CircuitOpen {
        CircuitOpen::new(self.name.clone(), Duration::from_nanos(left))
    }

    fn publish(&self, machine: &Machine) {
        self.open_until
            .store(machine.open_until(), Ordering::Release);
        self.word.store(machine.word().0, Ordering::Release);
    }

    /// Runs one locked step of the machine, then logs its transitions unlocked.
    fn step(&self, f: impl FnOnce(&mut Machine, &BreakerConfig, Nanos) -> Transitions) {
        let now = self.now();
        let transitions = {
            let mut machine = lock(&self.machine);
            let transitions = f(&mut machine, &self.config, now);
            self.publish(&machine);
            transitions
        };
        self.log(transitions);
    }

    fn settle(&self, admission: Admission, outcome: Outcome) {
        self.step(|m, cfg, now| m.settle(cfg, admission, outcome, now));
    }

    fn log(&self, transitions: Transitions) {
        for t in transitions.iter() {
            match t.to {
                CircuitState::Open => tracing::warn!(
                    target: "s3_ops::breaker",
                    circuit = %self.name,
                    from = t.from.as_str(),
                    open_for = ?self.config.open_timeout,
                    "circuit breaker opened: S3 calls fail fast"
                ),
                CircuitState::HalfOpen => tracing::info!(
                    target: "s3_ops::breaker",
                    circuit = %self.name,
                    from = t.from.as_str(),
                    probes = self.config.half_open_max_calls,
                    "circuit breaker half-open: probing S3"
                ),
                CircuitState::Closed => tracing::info!(
                    target: "s3_ops::breaker",
                    circuit = %self.name,
                    from = t.from.as_str(),
                    "circuit breaker closed: S3 calls go through"
                ),
            }
        }
    }
}

/// Permission to make one call through a [`CircuitBreaker`].
///
/// Dropping it without [`success`](Self::success) or [`failure`](Self::failure) — because the
/// call's future was cancelled — records nothing and frees the half-open probe slot it may hold.
#[must_use = "record the call's outcome with `success()` or `failure()`"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    ticket: Ticket,
}

impl Permit<'_> {
    /// `true` when this permit is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.ticket.is_probe()
    }

    /// The call succeeded.
    #[inline]
    pub fn success(self) {
        self.ticket.settle(self.breaker, Outcome::Success);
    }

    /// The call failed in a way that says S3 is unwell.
    #[inline]
    pub fn failure(self) {
        self.ticket.settle(self.breaker, Outcome::Failure);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("circuit", &self.breaker.name())
            .field("probe", &self.is_probe())
            .finish()
    }
}

/// A permit that borrows nothing, for generated code: with `&mut self` methods the body may
/// need `self` mutably, so the breaker is borrowed again to record the outcome. Only a half-open
/// probe owns a handle to its breaker (the cold path), to free its slot if it is dropped.
///
/// 16 bytes, and no drop glue on the closed path: it lives in every annotated method's future.
pub(crate) enum Ticket {
    /// Admitted by a closed circuit, in `epoch`.
    Closed { epoch: u32 },
    /// A half-open probe.
    Probe(ProbeSlot),
}

/// A half-open probe's hold on its slot; dropped unsettled (its call was cancelled), it frees
/// the slot.
pub(crate) struct ProbeSlot {
    inner: Arc<Inner>,
    epoch: u32,
    settled: bool,
}

impl ProbeSlot {
    fn settle(mut self, outcome: Outcome) {
        self.settle_as(outcome);
        self.settled = true;
    }

    fn settle_as(&self, outcome: Outcome) {
        let admission = Admission {
            epoch: self.epoch,
            probe: true,
        };
        self.inner.settle(admission, outcome);
    }
}

impl Drop for ProbeSlot {
    fn drop(&mut self) {
        if !self.settled {
            self.settle_as(Outcome::Release);
        }
    }
}

impl Ticket {
    /// The ticket of a call without a breaker, and what a settled ticket leaves in its place.
    /// It is never settled itself: a call without a breaker has no breaker to settle it on,
    /// and a settled call is not settled again.
    pub(crate) const SETTLED: Ticket = Ticket::Closed { epoch: 0 };

    /// `true` for a half-open probe.
    pub(crate) fn is_probe(&self) -> bool {
        matches!(self, Ticket::Probe(_))
    }

    /// Records the call's outcome. `breaker` is the one that issued the ticket; a probe uses the
    /// handle it owns.
    #[inline]
    pub(crate) fn settle(self, breaker: &CircuitBreaker, outcome: Outcome) {
        match self {
            Ticket::Closed { epoch } => breaker.settle_closed(epoch, outcome),
            Ticket::Probe(slot) => slot.settle(outcome),
        }
    }
}

impl CircuitBreaker {
    #[inline]
    fn settle_closed(&self, epoch: u32, outcome: Outcome) {
        match outcome {
            Outcome::Release => {}
            Outcome::Success => {
                // The hot path: nothing to forget, nothing to store.
                let word = Word(self.inner.word.load(Ordering::Relaxed));
                if word.state() != CircuitState::Closed || word.failures() != 0 {
                    self.settle_slow(epoch, outcome);
                }
            }
            Outcome::Failure => self.settle_slow(epoch, outcome),
        }
    }

    #[inline(never)]
    fn settle_slow(&self, epoch: u32, outcome: Outcome) {
        self.inner.settle(
            Admission {
                epoch,
                probe: false,
            },
            outcome,
        );
    }
}

/// A weak handle the metrics collector reads the state gauge through. (Never created under
/// loom, whose `Arc` has no `Weak`: the gauge is not part of the models.)
pub(crate) type WeakBreaker = std::sync::Weak<Inner>;
