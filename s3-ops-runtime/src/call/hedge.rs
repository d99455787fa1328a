//! One attempt of a hedged read: the attempt, and, when it is slow, an identical one beside it.
//! The first answer that is a success or an error not worth retrying wins and the other attempt
//! is dropped (its request cancelled); a retryable error from one waits for the other.
//!
//! The generated code builds both attempts before the race, from the same `async` block
//! written once (two values of one type, no closure: the body borrows what it borrows as it
//! does without a hedge). The second runs only if the hedge is sent; otherwise it is dropped
//! unpolled, having done nothing.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use super::{budget, Call, CallPolicy};
use crate::breaker::{CircuitBreaker, CircuitState};
use crate::classify::Classify;
use crate::metrics::store::store;
use crate::metrics::HedgeOutcome;
use crate::retry::budget::HEDGE_COST;
use crate::retry::hedge::Hedge;

/// The two identical attempts of a hedged site, built before the race.
pub struct AttemptPair<F> {
    attempts: [Option<F>; 2],
}

impl<F> AttemptPair<F> {
    /// No attempt yet.
    #[allow(clippy::new_without_default)] // named only by generated code
    pub const fn new() -> Self {
        Self {
            attempts: [None, None],
        }
    }

    /// Adds an attempt: the first, then its twin.
    pub fn put(&mut self, attempt: F) {
        if let Some(slot) = self.attempts.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(attempt);
        }
    }
}

/// An attempt's answer and whether it settles the race.
fn decisive<T, E: Classify>(result: &Result<T, E>) -> bool {
    match result {
        Ok(_) => true,
        Err(err) => !err.classify().is_retryable(),
    }
}

impl<P: CallPolicy> Call<'_, P> {
    /// Runs one attempt of a hedged site: the pair's first; if it has not answered after
    /// `hedge`'s delay, and a hedge may be sent, its twin beside it. Then
    /// [`settle`](Self::settle) as after any attempt.
    ///
    /// A hedge is sent only while `circuit` is closed, within the site's share of hedges
    /// (one per ten calls), and with a token of the circuit's retry budget; it is counted in
    /// `s3_retry_attempts_total` under the attempt number it hedged and, once the race is
    /// decided, in `s3_hedged_attempts_total`.
    pub async fn hedged<T, E, F>(
        &mut self,
        hedge: &Hedge,
        pair: AttemptPair<F>,
        circuit: Option<&CircuitBreaker>,
    ) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: Classify,
    {
        let [first, second] = pair.attempts;
        let first = first.expect("the expansion puts two attempts in the pair");
        if self.attempt == 1 {
            hedge.count_call();
        }
        let started = Instant::now();
        let mut first = pin!(first);
        let (Some(delay), Some(second)) = (hedge.delay(), second) else {
            let result = first.await;
            hedge.record(started.elapsed());
            return result;
        };
        let wait = tokio::time::sleep(delay);
        let mut wait = pin!(wait);
        let early = poll_fn(|cx| match first.as_mut().poll(cx) {
            Poll::Ready(result) => Poll::Ready(Some(result)),
            Poll::Pending => wait.as_mut().poll(cx).map(|()| None),
        })
        .await;
        if let Some(result) = early {
            hedge.record(started.elapsed());
            return result;
        }
        if !self.may_hedge(hedge, circuit) {
            let result = first.await;
            hedge.record(started.elapsed());
            return result;
        }
        self.count_hedge(delay);
        let hedge_started = Instant::now();
        let mut second = pin!(second);
        // Each side's answer, once it came and did not settle the race.
        let mut failed: [Option<Result<T, E>>; 2] = [None, None];
        let (result, outcome) = poll_fn(|cx| {
            if failed[0].is_none() {
                if let Poll::Ready(result) = first.as_mut().poll(cx) {
                    hedge.record(started.elapsed());
                    if decisive(&result) {
                        return Poll::Ready((result, HedgeOutcome::Lost));
                    }
                    failed[0] = Some(result);
                }
            }
            if failed[1].is_none() {
                if let Poll::Ready(result) = second.as_mut().poll(cx) {
                    hedge.record(hedge_started.elapsed());
                    if decisive(&result) || failed[0].is_some() {
                        // The hedge's answer stands: a success, a final error, or (both
                        // having failed) the later of two retryable errors.
                        let outcome = if failed[0].is_some() && !decisive(&result) {
                            HedgeOutcome::Lost
                        } else {
                            HedgeOutcome::Won
                        };
                        return Poll::Ready((result, outcome));
                    }
                    failed[1] = Some(result);
                }
            }
            match failed {
                // The first failed after the hedge had: its error is the later one.
                [Some(_), Some(_)] => {
                    Poll::Ready((failed[0].take().expect("checked"), HedgeOutcome::Lost))
                }
                _ => Poll::Pending,
            }
        })
        .await;
        if outcome == HedgeOutcome::Won && failed[0].is_none() {
            // The first attempt is dropped unanswered: how long it ran is a lower bound of its
            // latency, which keeps it in the window.
            hedge.record(started.elapsed());
        }
        store()
            .hedged(self.site.operation, outcome)
            .inc_at(self.shard as usize);
        result
    }

    /// Whether this slow attempt may be hedged, taking what the hedge costs if so.
    fn may_hedge(&self, hedge: &Hedge, circuit: Option<&CircuitBreaker>) -> bool {
        if circuit.is_some_and(|circuit| circuit.state() != CircuitState::Closed) {
            return false;
        }
        if !hedge.try_take() {
            return false;
        }
        if !budget(circuit).try_take(HEDGE_COST) {
            hedge.give_back();
            return false;
        }
        true
    }

    /// A hedge is an attempt, counted under the number of the attempt it hedges.
    fn count_hedge(&self, delay: Duration) {
        let shard = self.shard as usize;
        if self.attempt == 1 {
            self.series.first_attempt.counter.inc_at(shard);
        } else {
            self.site.count_retry(u32::from(self.attempt), shard);
        }
        tracing::debug!(
            target: "s3_ops::retry",
            operation = self.site.operation,
            bucket = &*self.series.bucket,
            attempt = self.attempt,
            delay_ms = delay.as_millis() as u64,
            "S3 attempt slow, hedged with a second request"
        );
    }
}
