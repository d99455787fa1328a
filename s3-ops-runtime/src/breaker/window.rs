//! The failure-rate rule's window: the last `window_calls` outcomes a closed circuit recorded,
//! one bit each, and how many of them are failures.

use super::FailureRate;

#[derive(Clone, Debug)]
pub(crate) struct Window {
    /// One bit per outcome, 1 a failure; a ring of `capacity` bits written at `next`.
    bits: Box<[u64]>,
    capacity: u32,
    next: u32,
    len: u32,
    failures: u32,
}

impl Window {
    pub(crate) fn new(rate: &FailureRate) -> Self {
        let capacity = rate.window_calls.max(1);
        Self {
            bits: vec![0; capacity.div_ceil(64) as usize].into_boxed_slice(),
            capacity,
            next: 0,
            len: 0,
            failures: 0,
        }
    }

    /// Records one outcome, forgetting the oldest once the window is full.
    pub(crate) fn push(&mut self, failure: bool) {
        let (word, bit) = ((self.next / 64) as usize, 1u64 << (self.next % 64));
        if self.len == self.capacity {
            if self.bits[word] & bit != 0 {
                self.failures -= 1;
            }
        } else {
            self.len += 1;
        }
        if failure {
            self.bits[word] |= bit;
            self.failures += 1;
        } else {
            self.bits[word] &= !bit;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    /// `true` when the recorded failures reach the rule's threshold over enough calls.
    pub(crate) fn trips(&self, rate: &FailureRate) -> bool {
        self.len >= rate.minimum_calls
            && u64::from(self.failures) * 100
                >= u64::from(rate.threshold_percent) * u64::from(self.len)
    }

    /// A full window of successes: one more success changes nothing, so the breaker's lock-free
    /// path may skip recording it.
    pub(crate) fn is_full_of_successes(&self) -> bool {
        self.len == self.capacity && self.failures == 0
    }

    pub(crate) fn clear(&mut self) {
        self.bits.fill(0);
        self.next = 0;
        self.len = 0;
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(threshold_percent: u8, window_calls: u32, minimum_calls: u32) -> FailureRate {
        FailureRate {
            threshold_percent,
            window_calls,
            minimum_calls,
        }
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let r = rate(50, 4, 4);
        let mut w = Window::new(&r);
        for failure in [true, true, false, false] {
            w.push(failure);
        }
        assert!(w.trips(&r), "2 of 4");
        w.push(false);
        assert!(!w.trips(&r), "1 of 4: the first failure left");
        w.push(false);
        w.push(false);
        w.push(false);
        assert!(w.is_full_of_successes());
    }

    #[test]
    fn nothing_trips_below_the_minimum() {
        let r = rate(50, 10, 5);
        let mut w = Window::new(&r);
        for _ in 0..4 {
            w.push(true);
        }
        assert!(!w.trips(&r));
        w.push(false);
        assert!(w.trips(&r), "4 of 5");
    }

    #[test]
    fn a_window_wider_than_a_word_wraps() {
        let r = rate(100, 130, 130);
        let mut w = Window::new(&r);
        for _ in 0..130 {
            w.push(true);
        }
        assert!(w.trips(&r));
        for n in 1..=130 {
            w.push(false);
            assert_eq!(w.failures, 130 - n);
        }
        assert!(w.is_full_of_successes());
    }
}
