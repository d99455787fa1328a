//! A set-once cell without drop glue, for the caches of a [`Site`](super::Site).
//!
//! Why not `OnceLock`: every annotated method keeps its `Site` in a `static`, and a `static`
//! whose type has drop glue (as `OnceLock` has) makes rustc redo its monomorphization and
//! metadata work on every incremental rebuild of the user's crate, whatever changed — a large
//! share of what 100 annotated methods cost a rebuild (BENCHMARKS.md, compile cost). A `static`
//! is never dropped anyway; the value a cell holds is leaked unless its owner frees it
//! ([`take`](SiteCell::take), which `Operation`'s `Drop` does).

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

pub(crate) struct SiteCell<T> {
    value: AtomicPtr<T>,
}

impl<T> SiteCell<T> {
    pub(crate) const fn new() -> Self {
        Self {
            value: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The value, once set.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        // SAFETY: a non-null pointer came from `Box::into_raw` in `get_or_init`, was published
        // with `Release` (this `Acquire` sees the value written), and is freed only by `take`,
        // which has the cell exclusively.
        unsafe { self.value.load(Ordering::Acquire).as_ref() }
    }

    /// The value, set by `init` if no other thread got there first. Threads racing here may
    /// each run `init`; the losers' values are dropped, so `init` must have no other effect.
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
        let mine = Box::into_raw(Box::new(init()));
        match self.value.compare_exchange(
            ptr::null_mut(),
            mine,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: just published; freed only by `take`, which needs `&mut self`.
            Ok(_) => unsafe { &*mine },
            Err(theirs) => {
                // SAFETY: `mine` was never shared; `theirs` is published and lives as above.
                unsafe {
                    drop(Box::from_raw(mine));
                    &*theirs
                }
            }
        }
    }

    /// Takes the value out, to free it.
    pub(crate) fn take(&mut self) -> Option<Box<T>> {
        let value = std::mem::replace(self.value.get_mut(), ptr::null_mut());
        // SAFETY: non-null pointers come from `Box::into_raw`; `&mut self` means no reference
        // handed out by `get` is alive.
        (!value.is_null()).then(|| unsafe { Box::from_raw(value) })
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
        assert_eq!(cell.take().as_deref().map(String::as_str), Some("a"));
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
                        (ptr::from_ref(value) as usize, *value)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    }
}
