//! How work is split over threads (never what is computed).
//!
//! Splitting only ever happens at the nodes of the fixed tree of
//! [`crate::reduce`] (or between whole tensors of a model), and results are
//! combined in the tree's order, so the thread count changes the speed and
//! never the bits.
//!
//! A split hands one side to one of regnorm's helper threads ([`crew`]) and
//! runs the other on the calling thread, which always works on a share and
//! never sleeps while the helpers work. How many threads a call may use is
//! [`num_threads`] (set by [`set_num_threads`] or `REGNORM_NUM_THREADS`,
//! else the CPUs the process may run on at the time of the call); inside a
//! rayon pool, also at most the pool's size. rayon's global pool is never
//! created or consulted from outside it.

#[cfg(feature = "rayon")]
mod crew;
#[cfg(feature = "rayon")]
mod placement;

use std::sync::atomic::{AtomicUsize, Ordering};

/// The thread count set by [`set_num_threads`], or 0 (follow the CPUs).
static SET: AtomicUsize = AtomicUsize::new(UNREAD);
/// [`SET`] before `REGNORM_NUM_THREADS` has been read.
const UNREAD: usize = usize::MAX;
/// The most threads a call uses: the caller and every helper.
#[cfg(feature = "rayon")]
const MAX_THREADS: usize = crew::MAX_HELPERS + 1;
#[cfg(not(feature = "rayon"))]
const MAX_THREADS: usize = 1;

/// Sets the number of threads a call may use, the calling thread included:
/// `1` keeps every call on its calling thread (no helper thread is ever
/// started), `0` returns to the default (the CPUs the process may run on,
/// looked up at each call). Overrides `REGNORM_NUM_THREADS`; takes effect
/// from the next call. Helpers already started stay (parked, using no
/// CPU) but are not used past the new count.
///
/// ```
/// regnorm::set_num_threads(1);
/// assert_eq!(regnorm::num_threads(), 1);
/// let w = vec![1.0f32; 1 << 20];
/// assert_eq!(regnorm::sum_abs(&w), (1 << 20) as f64); // on this thread only
/// regnorm::set_num_threads(0);
/// assert!(regnorm::num_threads() >= 1);
/// ```
pub fn set_num_threads(n: usize) {
    SET.store(n.min(UNREAD - 1), Ordering::Relaxed);
}

/// The number of threads a call made now may use, the calling thread
/// included: [`set_num_threads`]'s count if set, else
/// `REGNORM_NUM_THREADS` if set (read once, at the first call that needs
/// it; `0`, empty or unparsable means unset), else the number of CPUs in
/// the process's affinity mask now; at most 64, and 1 without the `rayon`
/// feature. Inside a rayon pool a call also uses at most the pool's size.
///
/// ```
/// let n = regnorm::num_threads();
/// assert!((1..=64).contains(&n));
/// ```
pub fn num_threads() -> usize {
    let set = match SET.load(Ordering::Relaxed) {
        UNREAD => {
            let env = std::env::var("REGNORM_NUM_THREADS")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            // A racing `set_num_threads` wins over the environment.
            let _ = SET.compare_exchange(UNREAD, env, Ordering::Relaxed, Ordering::Relaxed);
            SET.load(Ordering::Relaxed)
        }
        n => n,
    };
    let n = if set == 0 { cpus() } else { set };
    n.clamp(1, MAX_THREADS)
}

/// The CPUs this process may run on now (its affinity mask on Linux).
fn cpus() -> usize {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, writable `cpu_set_t` of the size
        // passed; pid 0 is the calling thread, whose mask a new thread
        // would inherit.
        let got = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
        if got == 0 {
            // SAFETY: `set` is a valid `cpu_set_t`.
            return usize::try_from(unsafe { libc::CPU_COUNT(&set) }).unwrap_or(1);
        }
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Whether a call may use threads, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Par {
    /// Everything on the calling thread.
    Sequential,
    /// Up to [`num_threads`] (and the calling rayon pool's size, inside
    /// one), looked up only when an input is large enough to split.
    Pool,
    /// A share of a split call: up to `n` threads, the calling thread
    /// included, taking helpers from the first `helpers` mailboxes (the
    /// call's thread count less one, fixed where the call split first).
    #[cfg_attr(not(feature = "rayon"), allow(dead_code))]
    Threads { n: usize, helpers: usize },
}

/// Work below this many bytes stays on one thread. A split costs the post,
/// the helper starting its half late and the result coming back: 1–2 µs
/// on a 2-vCPU Xeon VM (the `handoff` harness of
/// regnorm-support), while one core reads 256 KiB in about 2 µs: from here
/// on a split call is faster than one thread (by 10–15% at 256 KiB on that
/// VM), below it no faster (BENCHMARKS.md, "Parallel thresholds").
pub(crate) const MIN_PARALLEL_BYTES: usize = 256 << 10;

impl Par {
    /// Up to [`num_threads`].
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
            Par::Pool => {
                let n = num_threads();
                // Inside a pool, at most its size; outside, rayon is not
                // asked (that would create its global pool).
                #[cfg(feature = "rayon")]
                if rayon::current_thread_index().is_some() {
                    return n.min(rayon::current_num_threads());
                }
                n
            }
            Par::Threads { n, .. } => n,
        }
    }

    /// The split of a call of `bytes` in all: [`Par::Pool`] becomes a fixed
    /// thread count, so that the count (a system call) is looked up once
    /// per call, not at every split.
    #[inline]
    pub(crate) fn resolve(self, bytes: usize) -> Par {
        match self {
            Par::Pool => match self.threads_for(bytes) {
                1 => Par::Sequential,
                n => Par::Threads { n, helpers: n - 1 },
            },
            other => other,
        }
    }

    /// Whether work of `bytes` is worth splitting across threads.
    #[inline]
    pub(crate) fn splits(self, bytes: usize) -> bool {
        self.threads_for(bytes) > 1
    }

    /// Runs `a` and `b`, on two threads if `bytes` of work make it worth it;
    /// each gets the share of the threads it may use in turn.
    /// Closures that take what they need by value (`move`) hand it over in
    /// the job's own cache line: the helper then need not follow references
    /// into the caller's stack frame, each a cache line crossing cores.
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
                let helpers = match self {
                    Par::Threads { helpers, .. } => helpers,
                    _ => n - 1,
                };
                let (na, nb) = (n - n / 2, n / 2);
                return crew::join(
                    helpers,
                    move || a(Par::Threads { n: na, helpers }),
                    move || b(Par::Threads { n: nb, helpers }),
                );
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
            move |par| par.for_each_run(left, cost, f),
            move |par| par.for_each_run(right, cost, f),
        );
    }
}
