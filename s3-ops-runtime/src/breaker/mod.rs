//! The circuit breaker: fail fast while S3 is down instead of queueing retries behind it.
//!
//! The classic thresholds are the defaults: five consecutive failures open the circuit for
//! 60 s; then one probe at a time is let through, and two successful probes close it again
//! while any probe failure reopens it. A failure-rate rule can open it too ([`FailureRate`]),
//! an operator can hold it open or disable it, and it keeps the retry budget of the calls
//! through it.
//!
//! The closed path is lock-free: admitting a call is one atomic load, and recording a success
//! stores nothing unless there is something to forget. Transitions take a short lock that is
//! never held across an `.await`. Time comes from `tokio::time`, so
//! `#[tokio::test(start_paused = true)]` makes the open timeout instant in tests.

mod config;
#[cfg(all(test, s3_ops_loom))]
mod loom_tests;
mod machine;
pub(crate) mod registry;
mod ticket;
mod window;

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{CircuitName, CircuitOpen};
use crate::retry::budget::RetryBudget;
use crate::sync::{lock, Arc, AtomicU64, Mutex, Ordering};
use machine::{Admission, Machine, Nanos, Transitions, Word};

pub(crate) use config::MAX_WINDOW_CALLS;
pub use config::{BreakerConfig, FailureRate};
pub use machine::BreakerOverride;
pub(crate) use machine::Outcome as BreakerOutcome;
pub use ticket::Permit;
use ticket::ProbeSlot;
pub(crate) use ticket::Ticket;

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
    /// Every state, in gauge order.
    pub const ALL: [CircuitState; 3] = [
        CircuitState::Closed,
        CircuitState::HalfOpen,
        CircuitState::Open,
    ];

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

impl BreakerOverride {
    /// `"none"`, `"held_open"` or `"disabled"`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerOverride::None => "none",
            BreakerOverride::HeldOpen => "held_open",
            BreakerOverride::Disabled => "disabled",
        }
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
    /// Transitions into `Closed` (recoveries, resets and releases).
    pub closed: u64,
}

/// A circuit breaker guarding one class of S3 calls.
///
/// Cloning gives another handle to the same breaker. While a handle lives, the breaker is
/// reported by the metrics: its state, its operator override and its transitions.
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
///
/// // On call: keep it open while S3 is investigated, then hand it back.
/// circuit.hold_open();
/// circuit.release();
/// assert_eq!(circuit.state(), CircuitState::Closed);
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    name: CircuitName,
    base: Instant,
    /// `Machine::word()` of the last step, for lock-free readers.
    word: AtomicU64,
    /// `Machine::open_until()`, stored before `word` so a reader that sees `Open` sees its
    /// deadline.
    open_until: AtomicU64,
    /// Beside `word`: the success path reads both.
    budget: RetryBudget,
    machine: Mutex<Machine>,
}

impl CircuitBreaker {
    /// A breaker with the default thresholds ([`BreakerConfig::default`]).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self::with_config(name, BreakerConfig::default())
    }

    /// A breaker with thresholds of your own.
    ///
    /// # Panics
    ///
    /// When a threshold or `half_open_max_calls` is zero, or the failure rate is out of range
    /// (see [`FailureRate`]).
    pub fn with_config(name: impl Into<Cow<'static, str>>, config: BreakerConfig) -> Self {
        let name = name.into();
        if let Some(problem) = config.problem() {
            panic!("invalid `BreakerConfig` for circuit `{name}`: {problem}");
        }
        let budget = RetryBudget::new(config.retry_budget);
        let machine = Machine::new(config);
        let inner = Arc::new(Inner {
            name: name.into(),
            word: AtomicU64::new(machine.word().0),
            open_until: AtomicU64::new(machine.open_until()),
            machine: Mutex::new(machine),
            budget,
            base: Instant::now(),
        });
        #[cfg(not(s3_ops_loom))]
        registry::add(&inner);
        Self { inner }
    }

    /// The name given at creation; the `circuit_name` label of its metrics.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The thresholds in use.
    pub fn config(&self) -> BreakerConfig {
        lock(&self.inner.machine).config().clone()
    }

    /// New thresholds, in force from the next outcome; safe while calls are in flight. An open
    /// circuit keeps the deadline it was given; a failure-rate window of another size starts
    /// empty; the retry budget takes the new capacity (tokens spent beyond it are forgotten).
    ///
    /// # Panics
    ///
    /// As [`with_config`](Self::with_config), on thresholds out of range; the breaker is then
    /// unchanged.
    pub fn reconfigure(&self, config: BreakerConfig) {
        if let Some(problem) = config.problem() {
            panic!(
                "invalid `BreakerConfig` for circuit `{}`: {problem}",
                self.name()
            );
        }
        let capacity = config.retry_budget;
        let mut machine = lock(&self.inner.machine);
        machine.reconfigure(config);
        self.inner.budget.set_capacity(capacity);
        self.inner.publish(&machine);
    }

    /// The current state. An open circuit whose timeout has elapsed reads as `HalfOpen`.
    pub fn state(&self) -> CircuitState {
        self.inner.state()
    }

    /// An operator's override in force, if any ([`hold_open`](Self::hold_open),
    /// [`disable`](Self::disable)).
    pub fn operator_override(&self) -> BreakerOverride {
        lock(&self.inner.machine).held()
    }

    /// Tokens left in the retry budget; `u32::MAX` when it is unlimited.
    pub fn retry_tokens(&self) -> u32 {
        self.inner.budget.available()
    }

    /// How often the breaker has changed state.
    pub fn stats(&self) -> BreakerStats {
        let counts = lock(&self.inner.machine).counts;
        let into = |to: CircuitState| counts.iter().map(|from| from[to as usize]).sum();
        BreakerStats {
            opened: into(CircuitState::Open),
            half_opened: into(CircuitState::HalfOpen),
            closed: into(CircuitState::Closed),
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
        Ok(Permit::new(self, self.admit()?))
    }

    /// Records a success without a permit.
    pub fn record_success(&self) {
        self.inner.step(|m, now| m.record_success(now));
    }

    /// Records a failure without a permit.
    pub fn record_failure(&self) {
        self.inner.step(|m, now| m.record_failure(now));
    }

    /// Closes the circuit and forgets its failures; outcomes of calls admitted before the reset
    /// are ignored. No effect while an operator's override is on.
    pub fn reset(&self) {
        self.inner.step(|m, _| m.reset());
    }

    /// Opens the circuit now, for the configured open timeout (maintenance, tests). No effect
    /// while an operator's override is on: see [`hold_open`](Self::hold_open).
    pub fn force_open(&self) {
        self.inner.step(|m, now| m.force_open(now));
    }

    /// Opens the circuit until [`release`](Self::release), whatever the open timeout: every
    /// call fails fast and no probe is sent. For on-call engineers who know S3 is down, or who
    /// must stop traffic to it. [`state`](Self::state) reads `Open`; the
    /// `s3_circuit_breaker_override` gauge reads 1.
    pub fn hold_open(&self) {
        self.inner.step(|m, _| m.hold_open());
        self.inner.log_override(BreakerOverride::HeldOpen);
    }

    /// Turns the breaker off until [`release`](Self::release): every call is admitted and the
    /// circuit never opens (outcomes are still counted in the metrics). For a breaker that
    /// misbehaves. [`state`](Self::state) reads `Closed`; the `s3_circuit_breaker_override`
    /// gauge reads 2. Retries still draw on the retry budget.
    pub fn disable(&self) {
        self.inner.step(|m, _| m.disable());
        self.inner.log_override(BreakerOverride::Disabled);
    }

    /// Ends [`hold_open`](Self::hold_open) or [`disable`](Self::disable): back to normal
    /// operation, closed, failures forgotten.
    pub fn release(&self) {
        self.inner.step(|m, _| m.release());
        self.inner.log_override(BreakerOverride::None);
    }

    /// The admission behind both [`acquire`](Self::acquire) and the call engine. The closed
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
        if word.state() == CircuitState::Open {
            // Failing fast before the deadline needs no lock.
            let until = inner.open_until.load(Ordering::Acquire);
            let now = inner.now();
            if now < until {
                return Err(inner.refusal(until - now));
            }
        }
        match inner.locked(|machine, now| machine.acquire(now)) {
            Ok(Admission {
                epoch,
                probe: false,
            }) => Ok(Ticket::Closed { epoch }),
            Ok(Admission { epoch, probe: true }) => {
                Ok(Ticket::Probe(ProbeSlot::new(Arc::clone(inner), epoch)))
            }
            Err(left) => Err(inner.refusal(left)),
        }
    }

    /// May the call holding `ticket` make another attempt? Not once the circuit has left the
    /// state that admitted it for anything but closed: open, or half-open with probes of its
    /// own. A probe's own slot does not refuse it. Lock-free.
    #[inline]
    pub(crate) fn admits_retry(&self, ticket: &Ticket) -> bool {
        let word = Word(self.inner.word.load(Ordering::Acquire));
        match ticket {
            _ if word.state() == CircuitState::Closed => true,
            Ticket::Probe(slot) => slot.epoch() == word.epoch(),
            Ticket::Closed { .. } => false,
        }
    }

    /// The retry budget of the calls through this circuit.
    #[inline]
    pub(crate) fn budget(&self) -> &RetryBudget {
        &self.inner.budget
    }

    #[inline]
    fn settle_closed(&self, epoch: u32, outcome: BreakerOutcome) {
        match outcome {
            BreakerOutcome::Release => {}
            BreakerOutcome::Success => {
                // The hot path: nothing to forget, nothing to store.
                let word = Word(self.inner.word.load(Ordering::Relaxed));
                if word.success_is_news() {
                    self.settle_slow(epoch, outcome);
                }
            }
            BreakerOutcome::Failure => self.settle_slow(epoch, outcome),
        }
    }

    #[inline(never)]
    fn settle_slow(&self, epoch: u32, outcome: BreakerOutcome) {
        self.inner.settle(
            Admission {
                epoch,
                probe: false,
            },
            outcome,
        );
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (config, held) = {
            let machine = lock(&self.inner.machine);
            (machine.config().clone(), machine.held())
        };
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .field("override", &held)
            .field("retry_tokens", &self.retry_tokens())
            .field("config", &config)
            .finish()
    }
}

impl Inner {
    fn now(&self) -> Nanos {
        let elapsed = Instant::now().saturating_duration_since(self.base);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
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

    /// Runs one locked step of the machine and publishes its state, then logs the step's
    /// transitions unlocked.
    fn locked<R>(&self, f: impl FnOnce(&mut Machine, Nanos) -> (R, Transitions)) -> R {
        let now = self.now();
        let (result, transitions, open_for, probes) = {
            let mut machine = lock(&self.machine);
            let (result, transitions) = f(&mut machine, now);
            self.publish(&machine);
            let config = machine.config();
            (
                result,
                transitions,
                config.open_timeout,
                config.half_open_max_calls,
            )
        };
        self.log(transitions, open_for, probes);
        result
    }

    fn step(&self, f: impl FnOnce(&mut Machine, Nanos) -> Transitions) {
        self.locked(|m, now| ((), f(m, now)));
    }

    fn settle(&self, admission: Admission, outcome: BreakerOutcome) {
        self.step(|m, now| m.settle(admission, outcome, now));
    }

    fn log(&self, transitions: Transitions, open_for: Duration, probes: u32) {
        for t in transitions.iter() {
            match t.to {
                CircuitState::Open => tracing::warn!(
                    target: "s3_ops::breaker",
                    circuit = %self.name,
                    from = t.from.as_str(),
                    open_for = ?open_for,
                    "circuit breaker opened: S3 calls fail fast"
                ),
                CircuitState::HalfOpen => tracing::info!(
                    target: "s3_ops::breaker",
                    circuit = %self.name,
                    from = t.from.as_str(),
                    probes,
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

    fn log_override(&self, held: BreakerOverride) {
        let message = match held {
            BreakerOverride::HeldOpen => "circuit breaker held open by an operator until released",
            BreakerOverride::Disabled => {
                "circuit breaker disabled by an operator until released: every call goes through"
            }
            BreakerOverride::None => "circuit breaker released by an operator: normal operation",
        };
        tracing::warn!(
            target: "s3_ops::breaker",
            circuit = %self.name,
            r#override = held.as_str(),
            "{message}"
        );
    }
}
