//! How work is split over threads (never what is computed).
//!
//! Splitting only ever happens at the nodes of the fixed tree of
//! [`crate::reduce`] (or between whole tensors of a model), and results are
//! combined in the tree's order, so the thread count changes the speed and
//! never the bits.
//!
//! A split hands one side to one of regnorm's helper threads ([`crew`]) and
//! runs the other on the calling thread, which always works on a share and
//! never sleeps while the helpers work. A call uses at most as many threads
//! as the rayon pool it is made from has (`rayon::current_num_threads()`:
//! the global pool, sized by `RAYON_NUM_THREADS` or the core count, or your
//! own inside `pool.install(..)`), and at most one per core.

#[cfg(feature = "rayon")]
mod crew;
#[cfg(feature = "rayon")]
mod placement;

/// Whether a call may use threads, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Par {
    /// Everything on the calling thread.
    Sequential,
    /// Up to as many threads as the calling rayon pool has, looked up only
    /// when an input is large enough to split.
    Pool,
    /// Up to this many threads, the calling thread included.
    #[cfg_attr(not(feature = "rayon"), allow(dead_code))]
    Threads(usize),
}

/// Work below this many bytes stays on one thread: a split's hand-off to
/// an awake helper costs a few hundred nanoseconds (cache lines crossing
/// cores), about what one thread needs to read 32 KiB, and the split must
/// leave each side well above that. 256 KiB reads in 1-2 µs on one core.
pub(crate) const MIN_PARALLEL_BYTES: usize = 256 << 10;

impl Par {
    /// Up to the calling rayon pool's thread count.
    pub(crate) fn threads() -> Par {
        if cfg!(feature = "rayon") {
            Par::Pool
        } else {
            Par::Sequential
        }
    }

    /// The threads work of `bytes` is split over: 1 if it is not worth it.
    #[inline]
    pub(crate) fn threads_for(self, bytes: usize) -> usize {
        if bytes < MIN_PARALLEL_BYTES {
            return 1;
        }
        match self {
            Par::Sequential => 1,
            #[cfg(feature = "rayon")]
            Par::Pool => rayon::current_num_threads(),
            #[cfg(not(feature = "rayon"))]
            Par::Pool => 1,
            Par::Threads(n) => n,
        }
    }

    /// Whether work of `bytes` is worth splitting across threads.
    #[inline]
    pub(crate) fn splits(self, bytes: usize) -> bool {
        self.threads_for(bytes) > 1
    }

    /// Runs `a` and `b`, on two threads if `bytes` of work make it worth it;
    /// each gets the share of the threads it may use in turn.
    #[inline]
    pub(crate) fn join<RA, RB>(
        self,
        bytes: usize,
        a: impl FnOnce(Par) -> RA,
        b: impl FnOnce(Par) -> RB + Send,
    ) -> (RA, RB)
    where
        RB: Send,
    {
        #[cfg(feature = "rayon")]
        {
            let n = self.threads_for(bytes);
            if n > 1 {
                let (na, nb) = (n - n / 2, n / 2);
                return crew::join(|| a(Par::Threads(na)), || b(Par::Threads(nb)));
            }
        }
        let _ = bytes;
        (a(self), b(self))
    }

    /// Applies `f` to sublists that together hold every item once, in
    /// order: the list is split where the `cost` (bytes) of the two sides
    /// balances, as long as both threads and bytes allow, so consecutive
    /// small items stay together on one thread, in one call of `f`.
    pub(crate) fn for_each_run<I: Send>(
        self,
        items: &mut [I],
        cost: &(impl Fn(&I) -> usize + Sync),
        f: &(impl Fn(&mut [I]) + Sync),
    ) {
        let total: usize = items.iter().map(cost).sum();
        if items.len() < 2 || !self.splits(total) {
            f(items);
            return;
        }
        let (mut mid, mut before) = (0, 0);
        while mid + 1 < items.len() && 2 * (before + cost(&items[mid])) <= total {
            before += cost(&items[mid]);
            mid += 1;
        }
        let mid = mid.max(1);
        let (left, right) = items.split_at_mut(mid);
        self.join(
            total,
            |par| par.for_each_run(left, cost, f),
            |par| par.for_each_run(right, cost, f),
        );
    }
}
