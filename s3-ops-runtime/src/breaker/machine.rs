//! The breaker's state machine, pure: no clock, no atomics, no logging. Time comes in as
//! nanoseconds since the breaker was created, so the same code runs under tokio's paused clock,
//! under loom, and inside property tests.
//!
//! ```text
//!            failure_threshold consecutive failures
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

use super::{BreakerConfig, CircuitState};

/// Nanoseconds since the breaker was created.
pub(crate) type Nanos = u64;

/// A change of state, reported so the caller can log it after unlocking.
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

/// Counts of transitions since creation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) opened: u64,
    pub(crate) half_opened: u64,
    pub(crate) closed: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Machine {
    state: CircuitState,
    failures: u32,
    epoch: u32,
    open_until: Nanos,
    probes_in_flight: u32,
    probe_successes: u32,
    pub(crate) counts: Counts,
}

const STATE_BITS: u64 = 0b11;
const FAILURE_SHIFT: u32 = 2;
const FAILURE_MAX: u32 = (1 << 30) - 1;
const EPOCH_SHIFT: u32 = 32;

/// The machine's state as lock-free readers see it, packed in one word:
/// state (2 bits) | consecutive failures (30 bits, saturating) | epoch (32 bits).
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

    pub(crate) fn failures(self) -> u32 {
        ((self.0 >> FAILURE_SHIFT) as u32) & FAILURE_MAX
    }

    pub(crate) fn epoch(self) -> u32 {
        (self.0 >> EPOCH_SHIFT) as u32
    }
}

impl Machine {
    pub(crate) fn new() -> Self {
        Self {
            state: CircuitState::Closed,
            failures: 0,
            epoch: 0,
            open_until: 0,
            probes_in_flight: 0,
            probe_successes: 0,
            counts: Counts::default(),
        }
    }

    pub(crate) fn word(&self) -> Word {
        Word(
            self.state as u64
                | (u64::from(self.failures.min(FAILURE_MAX)) << FAILURE_SHIFT)
                | (u64::from(self.epoch) << EPOCH_SHIFT),
        )
    }

    pub(crate) fn open_until(&self) -> Nanos {
        self.open_until
    }

    #[cfg(test)]
    /// The state at `now`: an open circuit whose deadline has passed reads as half-open even
    /// before anyone has asked to call through it.
    pub(crate) fn state_at(&self, now: Nanos) -> CircuitState {
        if self.state == CircuitState::Open && now >= self.open_until {
            CircuitState::HalfOpen
        } else {
            self.state
        }
    }

    pub(crate) fn acquire(
        &mut self,
        config: &BreakerConfig,
        now: Nanos,
    ) -> (Result<Admission, Nanos>, Transitions) {
        let transitions = self.tick(now);
        let admission = match self.state {
            CircuitState::Closed => Ok(Admission {
                epoch: self.epoch,
                probe: false,
            }),
            CircuitState::Open => Err(self.open_until - now),
            CircuitState::HalfOpen if self.probes_in_flight < config.half_open_max_calls => {
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
        config: &BreakerConfig,
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
            Outcome::Success => self.on_success(config, &mut transitions),
            Outcome::Failure => self.on_failure(config, now, &mut transitions),
            Outcome::Release => {}
        }
        transitions
    }

    /// A success reported without an admission (`CircuitBreaker::record_success`).
    pub(crate) fn record_success(&mut self, config: &BreakerConfig, now: Nanos) -> Transitions {
        let mut transitions = self.tick(now);
        self.on_success(config, &mut transitions);
        transitions
    }

    /// A failure reported without an admission (`CircuitBreaker::record_failure`).
    pub(crate) fn record_failure(&mut self, config: &BreakerConfig, now: Nanos) -> Transitions {
        let mut transitions = self.tick(now);
        self.on_failure(config, now, &mut transitions);
        transitions
    }

    /// Closes the circuit and starts a new epoch: outcomes of calls admitted before the reset
    /// are ignored, whatever the state was. Only a circuit that was not closed reports a
    /// transition.
    pub(crate) fn reset(&mut self) -> Transitions {
        let mut transitions = Transitions::default();
        if self.state == CircuitState::Closed {
            self.epoch = self.epoch.wrapping_add(1);
            self.failures = 0;
        } else {
            self.enter(CircuitState::Closed, &mut transitions);
        }
        transitions
    }

    pub(crate) fn force_open(&mut self, config: &BreakerConfig, now: Nanos) -> Transitions {
        let mut transitions = Transitions::default();
        self.open(config, now, &mut transitions);
        transitions
    }

    fn on_success(&mut self, config: &BreakerConfig, transitions: &mut Transitions) {
        match self.state {
            CircuitState::Closed => self.failures = 0,
            CircuitState::HalfOpen => {
                self.probe_successes += 1;
                if self.probe_successes >= config.success_threshold {
                    self.enter(CircuitState::Closed, transitions);
                }
            }
            // A late success from a call admitted before the circuit opened.
            CircuitState::Open => {}
        }
    }

    fn on_failure(&mut self, config: &BreakerConfig, now: Nanos, transitions: &mut Transitions) {
        match self.state {
            CircuitState::Closed => {
                self.failures = self.failures.saturating_add(1);
                if self.failures >= config.failure_threshold {
                    self.open(config, now, transitions);
                }
            }
            CircuitState::HalfOpen => self.open(config, now, transitions),
            // The deadline was fixed when the circuit opened: late failures do not extend it.
            CircuitState::Open => {}
        }
    }

    fn open(&mut self, config: &BreakerConfig, now: Nanos, transitions: &mut Transitions) {
        let timeout = u64::try_from(config.open_timeout.as_nanos()).unwrap_or(u64::MAX);
        self.open_until = now.saturating_add(timeout);
        self.enter(CircuitState::Open, transitions);
    }

    /// The lazy `Open → HalfOpen` once the deadline has passed.
    fn tick(&mut self, now: Nanos) -> Transitions {
        let mut transitions = Transitions::default();
        if self.state == CircuitState::Open && now >= self.open_until {
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
        match to {
            CircuitState::Open => self.counts.opened += 1,
            CircuitState::HalfOpen => self.counts.half_opened += 1,
            CircuitState::Closed => self.counts.closed += 1,
        }
        transitions.push(Transition { from, to });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SEC: Nanos = 1_000_000_000;

    fn config() -> BreakerConfig {
        BreakerConfig::default()
    }

    #[test]
    fn word_round_trips_state_failures_and_epoch() {
        let mut m = Machine::new();
        for _ in 0..3 {
            m.record_failure(&config(), 0);
        }
        assert_eq!(m.word().state(), CircuitState::Closed);
        assert_eq!(m.word().failures(), 3);
        m.force_open(&config(), 0);
        assert_eq!(m.word().state(), CircuitState::Open);
        assert_eq!(m.word().failures(), 0);
        assert_eq!(m.word().epoch(), 1);
    }

    #[test]
    fn stale_failure_neither_extends_the_deadline_nor_reopens() {
        let cfg = config();
        let mut m = Machine::new();
        let (early, _) = m.acquire(&cfg, 0);
        let early = early.unwrap();
        for _ in 0..5 {
            m.record_failure(&cfg, 0);
        }
        assert_eq!(m.open_until(), 60 * SEC);
        m.settle(&cfg, early, Outcome::Failure, 30 * SEC);
        assert_eq!(m.open_until(), 60 * SEC);
        // After the deadline the stale failure is still ignored: the circuit half-opens.
        m.settle(&cfg, early, Outcome::Failure, 61 * SEC);
        assert_eq!(m.state_at(61 * SEC), CircuitState::HalfOpen);
    }

    #[test]
    fn overflowing_open_timeout_saturates() {
        let cfg = BreakerConfig {
            open_timeout: Duration::MAX,
            ..config()
        };
        let mut m = Machine::new();
        m.force_open(&cfg, 5);
        assert_eq!(m.open_until(), u64::MAX);
        assert_eq!(m.state_at(u64::MAX - 1), CircuitState::Open);
    }
}
