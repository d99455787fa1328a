//! What an admitted call holds until it reports its outcome: a [`Permit`] for callers of
//! [`CircuitBreaker::acquire`], a [`Ticket`] (borrowing nothing) for the call engine.

use std::fmt;

use super::machine::{Admission, Outcome};
use super::{CircuitBreaker, Inner};
use crate::sync::Arc;

/// Permission to make one call through a [`CircuitBreaker`].
///
/// Dropping it without [`success`](Self::success) or [`failure`](Self::failure) — because the
/// call's future was cancelled — records nothing and frees the half-open probe slot it may hold.
#[must_use = "record the call's outcome with `success()` or `failure()`"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    ticket: Ticket,
}

impl<'a> Permit<'a> {
    pub(super) fn new(breaker: &'a CircuitBreaker, ticket: Ticket) -> Self {
        Self { breaker, ticket }
    }

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

/// A permit that borrows nothing, for the call engine: with `&mut self` methods the body may
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
    pub(super) fn new(inner: Arc<Inner>, epoch: u32) -> Self {
        Self {
            inner,
            epoch,
            settled: false,
        }
    }

    pub(super) fn epoch(&self) -> u32 {
        self.epoch
    }

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
