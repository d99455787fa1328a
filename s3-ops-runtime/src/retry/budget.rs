//! The retry budget: the AWS SDKs' standard retry quota, shared by every call through one
//! circuit, so that a fleet of callers cannot multiply an outage's load by its retries.
//!
//! A retry takes [`RETRY_COST`] tokens ([`TIMEOUT_RETRY_COST`] after an attempt that timed
//! out); a call that succeeds on its first attempt puts [`SUCCESS_REWARD`] back, one that
//! succeeds after retries puts back what its retries took. Without the tokens the retry is not
//! made. The budget never holds more than its capacity.

use crate::sync::{AtomicU32, Ordering};

/// Tokens a retry takes.
pub const RETRY_COST: u32 = 5;
/// Tokens a retry after an attempt timeout takes: a timeout ties up a connection for longer.
pub const TIMEOUT_RETRY_COST: u32 = 10;
/// Tokens a hedge takes ([`hedge`](super::hedge)): a request sent for a read that may not
/// have failed, so cheaper than a retry and never given back.
pub const HEDGE_COST: u32 = 1;
/// Tokens a call that succeeded on its first attempt puts back.
pub const SUCCESS_REWARD: u32 = 1;
/// The default capacity, the SDKs' own.
pub const DEFAULT_RETRY_BUDGET: u32 = 500;

/// `capacity` for a budget that never runs out.
const UNLIMITED: u32 = u32::MAX;

/// Tokens for retries, counted down from a capacity.
///
/// It stores what has been spent rather than what is left: a full budget is zero, so the
/// success path, which finds it full, only reads it.
pub(crate) struct RetryBudget {
    spent: AtomicU32,
    capacity: AtomicU32,
}

impl RetryBudget {
    /// `None` never runs out.
    pub(crate) fn new(capacity: Option<u32>) -> Self {
        Self {
            spent: AtomicU32::new(0),
            capacity: AtomicU32::new(capacity.unwrap_or(UNLIMITED)),
        }
    }

    /// A new capacity; tokens spent beyond it are forgotten.
    pub(crate) fn set_capacity(&self, capacity: Option<u32>) {
        let capacity = capacity.unwrap_or(UNLIMITED);
        self.capacity.store(capacity, Ordering::Relaxed);
        let _ = self
            .spent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |spent| {
                (spent > capacity).then_some(capacity)
            });
    }

    /// Tokens left; `u32::MAX` for an unlimited budget.
    pub(crate) fn available(&self) -> u32 {
        let capacity = self.capacity.load(Ordering::Relaxed);
        if capacity == UNLIMITED {
            return UNLIMITED;
        }
        capacity.saturating_sub(self.spent.load(Ordering::Relaxed))
    }

    /// Takes `cost` tokens for a retry; `false`, taking none, when fewer are left.
    pub(crate) fn try_take(&self, cost: u32) -> bool {
        let capacity = self.capacity.load(Ordering::Relaxed);
        if capacity == UNLIMITED {
            return true;
        }
        self.spent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |spent| {
                spent.checked_add(cost).filter(|&after| after <= capacity)
            })
            .is_ok()
    }

    /// Puts `tokens` back, never beyond the capacity.
    #[inline]
    pub(crate) fn refund(&self, tokens: u32) {
        // A full budget, the usual case, is only read.
        if self.spent.load(Ordering::Relaxed) != 0 {
            self.refund_slow(tokens);
        }
    }

    #[inline(never)]
    fn refund_slow(&self, tokens: u32) {
        let _ = self
            .spent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |spent| {
                (spent != 0).then(|| spent.saturating_sub(tokens))
            });
    }
}

/// Sets the capacity of the budget shared by calls without a breaker (best-effort cleanup with
/// `max_attempts` above 1); `None`: unlimited. It starts at [`DEFAULT_RETRY_BUDGET`]. Tokens
/// spent beyond a smaller capacity are forgotten.
///
/// ```
/// // Cleanup may retry as often as its policy says, whatever else fails.
/// s3_ops_runtime::retry::budget::set_cleanup_budget(None);
/// ```
pub fn set_cleanup_budget(capacity: Option<u32>) {
    unguarded_budget().set_capacity(capacity);
}

/// The budget of calls without a breaker (best-effort cleanup that retries): one for the
/// process, of the default capacity unless [`set_cleanup_budget`] says otherwise.
pub(crate) fn unguarded_budget() -> &'static RetryBudget {
    static BUDGET: std::sync::LazyLock<RetryBudget> =
        std::sync::LazyLock::new(|| RetryBudget::new(Some(DEFAULT_RETRY_BUDGET)));
    &BUDGET
}

#[cfg(all(test, not(s3_ops_loom)))]
mod tests {
    use super::*;

    #[test]
    fn retries_drain_it_and_successes_fill_it_up_to_the_capacity() {
        let budget = RetryBudget::new(Some(12));
        assert!(budget.try_take(RETRY_COST));
        assert!(budget.try_take(RETRY_COST));
        assert_eq!(budget.available(), 2);
        assert!(!budget.try_take(RETRY_COST), "2 left, 5 asked");
        assert_eq!(budget.available(), 2, "a refused retry takes nothing");
        budget.refund(SUCCESS_REWARD);
        assert_eq!(budget.available(), 3);
        budget.refund(100);
        assert_eq!(budget.available(), 12, "never above the capacity");
    }

    #[test]
    fn an_unlimited_budget_never_refuses() {
        let budget = RetryBudget::new(None);
        for _ in 0..10_000 {
            assert!(budget.try_take(TIMEOUT_RETRY_COST));
        }
        assert_eq!(budget.available(), u32::MAX);
    }

    #[test]
    fn a_smaller_capacity_forgets_what_was_spent_beyond_it() {
        let budget = RetryBudget::new(Some(500));
        assert!(budget.try_take(400));
        budget.set_capacity(Some(100));
        assert_eq!(budget.available(), 0);
        // Successes earn retries back from the new capacity, not from the forgotten spending.
        budget.refund(SUCCESS_REWARD);
        assert_eq!(budget.available(), SUCCESS_REWARD);
        budget.set_capacity(None);
        assert!(budget.try_take(1_000));
    }
}
