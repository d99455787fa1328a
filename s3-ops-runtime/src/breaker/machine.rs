//! The breaker's state machine, pure: no clock, no atomics, no logging. Time comes in as
//! nanoseconds since the breaker was created, so the same code runs under tokio's paused clock,
//! under loom, and inside property tests.
//!
//! ```text
//!          failure_threshold consecutive failures, or
//!          the failure rate over the window (if configured)
//!   Closed ───────────────────────────────────────────▶ Open ◀──────────┐
//!     ▲                                                   │ open_timeout  │ any probe
//!     │ success_threshold probe successes                 ▼ elapsed       │ failure
//!     └──────────────────────────────────────────────── HalfOpen ────────┘
//!                   (at most half_open_max_calls probes in flight)
//! ```
//!
//! Every entry into a state starts a new *epoch*. An admission remembers its epoch, and an
//! outcome from an earlier epoch is ignored: a call that started while the circuit was closed and
//! fails after it opened neither extends the open deadline nor counts as a probe.
//!
//! An operator's override freezes the machine: held open, it stays open with no deadline;
//! disabled, it stays closed and counts nothing; only `release` ends either.

use super::window::Window;
use super::{BreakerConfig, CircuitState};

/// Nanoseconds since the breaker was created.
pub(crate) type Nanos = u64;

/// A change of state, reported so the caller can log and count it after unlocking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) from: CircuitState,
    pub(crate) to: CircuitState,
}

/// Up to two transitions happen in one step: the lazy `Open → HalfOpen` on the deadline, then
/// the step's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Transitions([Option<Transition>; 2]);

impl Transitions {
    fn push(&mut self, t: Transition) {
        let slot = if self.0[0].is_none() { 0 } else { 1 };
        self.0[slot] = Some(t);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = Transition> + '_ {
        self.0.iter().flatten().copied()
    }
}

/// Permission to make one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Admission {
    pub(crate) epoch: u32,
    /// A half-open probe, holding one of the `half_open_max_calls` slots.
    pub(crate) probe: bool,
}

/// How an admitted call ended, as far as the breaker is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    /// No verdict (cancelled, or a failure that says nothing about S3): frees a probe slot.
    Release,
}

/// An operator's hold on the breaker, as the `s3_circuit_breaker_override` gauge reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BreakerOverride {
    /// Normal operation (gauge value 0).
    None = 0,
    /// Open until released, whatever the open timeout (gauge value 1).
    HeldOpen = 1,
    /// Admits every call and never opens until released (gauge value 2).
    Disabled = 2,
}

/// Transitions since creation, by `[from][to]` state (as `CircuitState as usize`).
pub(crate) type TransitionCounts = [[u64; 3]; 3];

#[derive(Clone, Debug)]
pub(crate) struct Machine {
    config: BreakerConfig,
    state: CircuitState,
    failures: u32,
    epoch: u32,
    open_until: Nanos,
    probes_in_flight: u32,
    probe_successes: u32,
    /// The failure-rate rule's outcomes, when it is configured.
    window: Option<Window>,
    held: BreakerOverride,
    pub(crate) counts: TransitionCounts,
}

const STATE_BITS: u64 = 0b11;
/// Set when a success of a closed-circuit call is news: there are failures to forget, or a
/// window that still has room or failures in it. Clear, the success path stores nothing.
const NEWS_BIT: u64 = 0b100;
const EPOCH_SHIFT: u32 = 32;

/// The machine's state as lock-free readers see it, packed in one word:
/// state (2 bits) | a success is news (1 bit) | unused | epoch (32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    pub(crate) fn state(self) -> CircuitState {
        match self.0 & STATE_BITS {
            0 => CircuitState::Closed,
            1 => CircuitState::HalfOpen,
            _ => CircuitState::Open,
        }
    }

    /// `true` when a closed-circuit success must be recorded under the lock.
    #[inline]
    pub(crate) fn success_is_news(self) -> bool {
        self.0 & (STATE_BITS | NEWS_BIT) != 0
    }

    pub(crate) fn epoch(self) -> u32 {
        (self.0 >> EPOCH_SHIFT) as u32
    }
}

impl Machine {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            window: config.failure_rate.as_ref().map(Window::new),
            config,
            state: CircuitState::Closed,
            failures: 0,
            epoch: 0,
            open_until: 0,
            probes_in_flight: 0,
            probe_successes: 0,
            held: BreakerOverride::None,
            counts: TransitionCounts::default(),
        }
    }

    pub(crate) fn config(&self) -> &BreakerConfig {
        &self.config
    }

    pub(crate) fn held(&self) -> BreakerOverride {
        self.held
    }

    pub(crate) fn word(&self) -> Word {
        let news = self.failures != 0
            || self
                .window
                .as_ref()
                .is_some_and(|window| !window.is_full_of_successes());
        Word(
            self.state as u64
                | if news { NEWS_BIT } else { 0 }
                | (u64::from(self.epoch) << EPOCH_SHIFT),
        )
    }

    pub(crate) fn open_until(&self) -> Nanos {
        self.open_until
    }

    /// The state at `now`: an open circuit whose deadline has passed reads as half-open even
    /// before anyone has asked to call through it.
    #[cfg(test)]
    pub(crate) fn state_at(&self, now: Nanos) -> CircuitState {
        if self.state == CircuitState::Open && now >= self.open_until {
            CircuitState::HalfOpen
        } else {
            self.state
        }
    }

    pub(crate) fn acquire(&mut self, now: Nanos) -> (Result<Admission, Nanos>, Transitions) {
        let transitions = self.tick(now);
        let admission = match self.state {
            CircuitState::Closed => Ok(Admission {
                epoch: self.epoch,
                probe: false,
            }),
            CircuitState::Open => Err(self.open_until - now),
            CircuitState::HalfOpen if self.probes_in_flight < self.config.half_open_max_calls => {
                self.probes_in_flight += 1;
                Ok(Admission {
                    epoch: self.epoch,
                    probe: true,
                })
            }
            // Every probe slot is taken: fail fast until a probe reports back.
            CircuitState::HalfOpen => Err(0),
        };
        (admission, transitions)
    }

    /// Records how an admitted call ended.
    pub(crate) fn settle(
        &mut self,
        admission: Admission,
        outcome: Outcome,
        now: Nanos,
    ) -> Transitions {
        let mut transitions = self.tick(now);
        if admission.epoch != self.epoch {
            // From an earlier state: its probe slot (if any) died with that state.
            return transitions;
        }
        if admission.probe {
            debug_assert_eq!(self.state, CircuitState::HalfOpen);
            self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
        }
        match outcome {
            Outcome::Success => self.on_success(now, &mut transitions),
            Outcome::Failure => self.on_failure(now, &mut transitions),
            Outcome::Release => {}
        }
        transitions
    }

    /// A success reported without an admission (`CircuitBreaker::record_success`).
    pub(crate) fn record_success(&mut self, now: Nanos) -> Transitions {
        let mut transitions = self.tick(now);
        self.on_success(now, &mut transitions);
        transitions
    }

    /// A failure reported without an admission (`CircuitBreaker::record_failure`).
    pub(crate) fn record_failure(&mut self, now: Nanos) -> Transitions {
        let mut transitions = self.tick(now);
        self.on_failure(now, &mut transitions);
        transitions
    }

    /// Closes the circuit and starts a new epoch: outcomes of calls admitted before the reset
    /// are ignored, whatever the state was. Only a circuit that was not closed reports a
    /// transition. An operator's override stays.
    pub(crate) fn reset(&mut self) -> Transitions {
        let mut transitions = Transitions::default();
        if self.held != BreakerOverride::None {
            return transitions;
        }
        self.close(&mut transitions);
        transitions
    }

    pub(crate) fn force_open(&mut self, now: Nanos) -> Transitions {
        let mut transitions = Transitions::default();
        if self.held == BreakerOverride::None {
            self.open(now, &mut transitions);
        }
        transitions
    }

    /// Open until [`release`](Self::release), whatever the open timeout.
    pub(crate) fn hold_open(&mut self) -> Transitions {
        let mut transitions = Transitions::default();
        self.held = BreakerOverride::HeldOpen;
        self.open_until = Nanos::MAX;
        if self.state == CircuitState::Open {
            // Already open: calls admitted before still report to this epoch, and are ignored.
            self.epoch = self.epoch.wrapping_add(1);
        } else {
            self.enter(CircuitState::Open, &mut transitions);
        }
        transitions
    }

    /// Closed, admitting every call and counting no outcome, until [`release`](Self::release).
    pub(crate) fn disable(&mut self) -> Transitions {
        let mut transitions = Transitions::default();
        self.held = BreakerOverride::None;
        self.close(&mut transitions);
        self.held = BreakerOverride::Disabled;
        transitions
    }

    /// Back to normal operation: closed, failures forgotten.
    pub(crate) fn release(&mut self) -> Transitions {
        let mut transitions = Transitions::default();
        self.held = BreakerOverride::None;
        self.close(&mut transitions);
        transitions
    }

    /// New thresholds, from the next outcome on. The window starts afresh when its size
    /// changes; an open circuit keeps its deadline.
    pub(crate) fn reconfigure(&mut self, config: BreakerConfig) {
        if config.failure_rate.map(|r| r.window_calls)
            != self.config.failure_rate.map(|r| r.window_calls)
        {
            self.window = config.failure_rate.as_ref().map(Window::new);
        }
        self.config = config;
    }

    fn close(&mut self, transitions: &mut Transitions) {
        if self.state == CircuitState::Closed {
            self.epoch = self.epoch.wrapping_add(1);
            self.failures = 0;
            if let Some(window) = &mut self.window {
                window.clear();
            }
        } else {
            self.enter(CircuitState::Closed, transitions);
        }
    }

    fn on_success(&mut self, now: Nanos, transitions: &mut Transitions) {
        if self.held != BreakerOverride::None {
            return;
        }
        match self.state {
            CircuitState::Closed => {
                self.failures = 0;
                if let Some(window) = &mut self.window {
                    window.push(false);
                }
                // A success cannot raise the rate, but it can bring the window to its minimum.
                self.trip_on_rate(now, transitions);
            }
            CircuitState::HalfOpen => {
                self.probe_successes += 1;
                if self.probe_successes >= self.config.success_threshold {
                    self.enter(CircuitState::Closed, transitions);
                }
            }
            // A late success from a call admitted before the circuit opened.
            CircuitState::Open => {}
        }
    }

    fn on_failure(&mut self, now: Nanos, transitions: &mut Transitions) {
        if self.held != BreakerOverride::None {
            return;
        }
        match self.state {
            CircuitState::Closed => {
                self.failures = self.failures.saturating_add(1);
                if let Some(window) = &mut self.window {
                    window.push(true);
                }
                if self.failures >= self.config.failure_threshold {
                    self.open(now, transitions);
                } else {
                    self.trip_on_rate(now, transitions);
                }
            }
            CircuitState::HalfOpen => self.open(now, transitions),
            // The deadline was fixed when the circuit opened: late failures do not extend it.
            CircuitState::Open => {}
        }
    }

    /// The failure-rate rule, checked after every outcome a closed circuit records.
    fn trip_on_rate(&mut self, now: Nanos, transitions: &mut Transitions) {
        let trips = match (&self.window, &self.config.failure_rate) {
            (Some(window), Some(rate)) => window.trips(rate),
            _ => false,
        };
        if trips {
            self.open(now, transitions);
        }
    }

    fn open(&mut self, now: Nanos, transitions: &mut Transitions) {
        let timeout = u64::try_from(self.config.open_timeout.as_nanos()).unwrap_or(u64::MAX);
        self.open_until = now.saturating_add(timeout);
        self.enter(CircuitState::Open, transitions);
    }

    /// The lazy `Open → HalfOpen` once the deadline has passed.
    fn tick(&mut self, now: Nanos) -> Transitions {
        let mut transitions = Transitions::default();
        if self.state == CircuitState::Open
            && now >= self.open_until
            && self.held == BreakerOverride::None
        {
            self.enter(CircuitState::HalfOpen, &mut transitions);
        }
        transitions
    }

    fn enter(&mut self, to: CircuitState, transitions: &mut Transitions) {
        let from = self.state;
        self.state = to;
        self.epoch = self.epoch.wrapping_add(1);
        self.failures = 0;
        self.probes_in_flight = 0;
        self.probe_successes = 0;
        if let Some(window) = &mut self.window {
            window.clear();
        }
        self.counts[from as usize][to as usize] += 1;
        transitions.push(Transition { from, to });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::FailureRate;
    use std::time::Duration;

    const SEC: Nanos = 1_000_000_000;

    fn machine() -> Machine {
        Machine::new(BreakerConfig::default())
    }

    #[test]
    fn word_carries_state_news_and_epoch() {
        let mut m = machine();
        assert!(!m.word().success_is_news());
        for _ in 0..3 {
            m.record_failure(0);
        }
        assert_eq!(m.word().state(), CircuitState::Closed);
        assert!(m.word().success_is_news(), "failures to forget");
        m.force_open(0);
        assert_eq!(m.word().state(), CircuitState::Open);
        assert!(m.word().success_is_news(), "not closed");
        assert_eq!(m.word().epoch(), 1);
    }

    #[test]
    fn a_success_is_news_until_the_window_is_full_of_successes() {
        let mut m = Machine::new(BreakerConfig {
            failure_rate: Some(FailureRate {
                threshold_percent: 50,
                window_calls: 3,
                minimum_calls: 3,
            }),
            ..BreakerConfig::default()
        });
        for _ in 0..3 {
            assert!(m.word().success_is_news());
            m.record_success(0);
        }
        assert!(!m.word().success_is_news());
        m.record_failure(0);
        assert!(m.word().success_is_news());
    }

    #[test]
    fn the_failure_rate_opens_a_circuit_the_consecutive_rule_leaves_closed() {
        let mut m = Machine::new(BreakerConfig {
            failure_rate: Some(FailureRate {
                threshold_percent: 50,
                window_calls: 10,
                minimum_calls: 10,
            }),
            ..BreakerConfig::default()
        });
        // Failure, success, alternating: never two failures in a row, 5 of the first 9.
        for n in 0..9 {
            if n % 2 == 0 {
                m.record_failure(0);
            } else {
                m.record_success(0);
            }
            assert_eq!(
                m.state_at(0),
                CircuitState::Closed,
                "{n}: below the minimum"
            );
        }
        // 5 of 10 at the tenth outcome, a success: the rule is checked then too.
        m.record_success(0);
        assert_eq!(m.state_at(0), CircuitState::Open);
    }

    #[test]
    fn stale_failure_neither_extends_the_deadline_nor_reopens() {
        let mut m = machine();
        let (early, _) = m.acquire(0);
        let early = early.unwrap();
        for _ in 0..5 {
            m.record_failure(0);
        }
        assert_eq!(m.open_until(), 60 * SEC);
        m.settle(early, Outcome::Failure, 30 * SEC);
        assert_eq!(m.open_until(), 60 * SEC);
        // After the deadline the stale failure is still ignored: the circuit half-opens.
        m.settle(early, Outcome::Failure, 61 * SEC);
        assert_eq!(m.state_at(61 * SEC), CircuitState::HalfOpen);
    }

    #[test]
    fn overflowing_open_timeout_saturates() {
        let mut m = Machine::new(BreakerConfig {
            open_timeout: Duration::MAX,
            ..BreakerConfig::default()
        });
        m.force_open(5);
        assert_eq!(m.open_until(), u64::MAX);
        assert_eq!(m.state_at(u64::MAX - 1), CircuitState::Open);
    }

    #[test]
    fn held_open_outlasts_the_timeout_and_ignores_outcomes_until_released() {
        let mut m = machine();
        let t = m.hold_open();
        assert_eq!(t.iter().count(), 1);
        assert_eq!(m.held(), BreakerOverride::HeldOpen);
        assert!(m.acquire(3600 * SEC).0.is_err());
        assert_eq!(m.state_at(u64::MAX - 1), CircuitState::Open);
        m.record_success(0);
        m.reset();
        m.force_open(0);
        assert_eq!(m.state_at(0), CircuitState::Open);
        m.release();
        assert_eq!(
            (m.held(), m.state_at(0)),
            (BreakerOverride::None, CircuitState::Closed)
        );
        assert_eq!(
            m.counts[CircuitState::Open as usize][CircuitState::Closed as usize],
            1
        );
    }

    #[test]
    fn disabled_never_opens() {
        let mut m = machine();
        m.disable();
        for _ in 0..100 {
            m.record_failure(0);
        }
        assert_eq!(m.state_at(0), CircuitState::Closed);
        assert!(
            !m.word().success_is_news(),
            "the success path stays lock-free"
        );
        m.release();
        for _ in 0..5 {
            m.record_failure(0);
        }
        assert_eq!(m.state_at(0), CircuitState::Open);
    }
}
