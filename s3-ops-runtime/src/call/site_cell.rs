//! A set-once cell without drop glue, for the caches of a [`Site`](super::Site).
//!
//! Why not `OnceLock`: every annotated method keeps its `Site` in a `static`, and a `static`
//! whose type has drop glue (as `OnceLock` has) makes rustc redo its monomorphization and
//! metadata work on every incremental rebuild of the user's crate, whatever changed — a large
//! share of what 100 annotated methods cost a rebuild (BENCHMARKS.md, compile cost). A `static`
//! is never dropped anyway; a cell's value is dropped only by its owner's
//! [`take`](SiteCell::take), which `Operation`'s `Drop` calls.
//!
//! The value is stored in the cell, as `OnceLock` stores it, not behind a pointer: the hot path
//! reads it with one acquire load of the state and no extra indirection.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};

const EMPTY: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

pub(crate) struct SiteCell<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> SiteCell<T> {
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU8::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, once set.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        if self.state.load(Ordering::Acquire) == READY {
            // SAFETY: READY is stored (Release) only after the value is written, and the value
            // is never written again while the cell is shared.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, set by `init` if it is not set yet. A thread that finds another one setting
    /// it waits for that one (`init` is short: a lookup in the metric store).
    #[inline]
    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        match self.get() {
            Some(value) => value,
            None => self.init(init),
        }
    }

    #[cold]
    #[inline(never)]
    fn init(&self, init: impl FnOnce() -> T) -> &T {
        loop {
            match self
                .state
                .compare_exchange(EMPTY, BUSY, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    // Back to EMPTY if `init` panics, so that waiters do not spin forever.
                    let reset = ResetOnPanic(&self.state);
                    let value = init();
                    std::mem::forget(reset);
                    // SAFETY: BUSY gives this thread the only access to the value.
                    unsafe { (*self.value.get()).write(value) };
                    self.state.store(READY, Ordering::Release);
                    return self.get().expect("just set");
                }
                Err(READY) => return self.get().expect("set by another thread"),
                Err(_) => std::thread::yield_now(),
            }
        }
    }

    /// Takes the value out, to drop it.
    pub(crate) fn take(&mut self) -> Option<T> {
        if std::mem::replace(self.state.get_mut(), EMPTY) == READY {
            // SAFETY: READY means written; the state is EMPTY now, so it is not read again.
            Some(unsafe { self.value.get_mut().assume_init_read() })
        } else {
            None
        }
    }
}

struct ResetOnPanic<'a>(&'a AtomicU8);

impl Drop for ResetOnPanic<'_> {
    fn drop(&mut self) {
        self.0.store(EMPTY, Ordering::Release);
    }
}

// SAFETY: the cell hands out `&T` to any thread (needs `T: Sync`) and a thread may drop a value
// another thread made (needs `T: Send`), as for `OnceLock<T>`.
unsafe impl<T: Send + Sync> Sync for SiteCell<T> {}
// SAFETY: moving the cell moves the value it owns.
unsafe impl<T: Send> Send for SiteCell<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_set_stays() {
        let mut cell = SiteCell::new();
        assert_eq!(cell.get(), None);
        assert_eq!(*cell.get_or_init(|| String::from("a")), "a");
        assert_eq!(*cell.get_or_init(|| String::from("b")), "a");
        assert_eq!(cell.get().map(String::as_str), Some("a"));
        assert_eq!(cell.take().as_deref(), Some("a"));
        assert_eq!(cell.get(), None);
    }

    #[test]
    fn racing_initializers_agree_on_one_value() {
        let cell = SiteCell::new();
        let seen: Vec<(usize, usize)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|n| {
                    let cell = &cell;
                    scope.spawn(move || {
                        let value = cell.get_or_init(|| n);
                        (std::ptr::from_ref(value) as usize, *value)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    }

    #[test]
    fn a_panicking_initializer_leaves_the_cell_empty() {
        let cell = SiteCell::new();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cell.get_or_init(|| -> u8 { panic!("init failed") });
        }));
        assert!(panicked.is_err());
        assert_eq!(cell.get(), None);
        assert_eq!(*cell.get_or_init(|| 7), 7);
    }
}
