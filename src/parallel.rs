//! rayon: whole subtrees of the canonical order per task, small tensors
//! batched, and small inputs kept on the calling thread.
//!
//! Splitting only ever happens at the nodes of the fixed tree of
//! [`crate::reduce`], and results are combined in the tree's order, so the
//! thread count changes the speed and never the bits. Tasks run in the rayon
//! pool the call is made from: the global pool, or the caller's own pool
//! inside `pool.install(..)`.

#[cfg(feature = "rayon")]
use rayon::prelude::*;

/// Whether a call may use rayon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Par {
    /// Everything on the calling thread.
    Sequential,
    /// Large inputs split across the current rayon pool.
    Rayon,
}

/// Work below this many bytes stays on the calling thread when the call is
/// made from a rayon worker: another worker that is awake steals half of it
/// within a fraction of a microsecond, which pays from about this size on.
pub(crate) const MIN_PARALLEL_BYTES: usize = 256 << 10;

/// Work below this many bytes stays on the calling thread when the call is
/// made from outside any rayon pool: rayon then hands the whole call to a
/// pool thread and blocks the caller, and the two cross-thread wake-ups cost
/// tens of microseconds on a small VM, about what one thread needs to read
/// this much (`cargo run --release --example parallel_threshold`; its table
/// is in BENCHMARKS.md, "Parallel thresholds").
pub(crate) const MIN_PARALLEL_BYTES_OUTSIDE_POOL: usize = 4 << 20;

/// Consecutive small tensors are grouped into tasks of at least this many
/// bytes, so that a model of many tiny tensors does not pay a task each.
pub(crate) const BATCH_BYTES: usize = 256 << 10;

impl Par {
    /// Whether work of `bytes` is worth splitting across threads.
    #[inline]
    fn splits(self, bytes: usize) -> bool {
        #[cfg(feature = "rayon")]
        {
            self == Par::Rayon
                && bytes >= MIN_PARALLEL_BYTES
                && (bytes >= MIN_PARALLEL_BYTES_OUTSIDE_POOL
                    || rayon::current_thread_index().is_some())
                && rayon::current_num_threads() > 1
        }
        #[cfg(not(feature = "rayon"))]
        {
            let _ = bytes;
            false
        }
    }

    /// Runs `a` and `b`, in parallel if `bytes` of work make it worth it.
    #[inline]
    pub(crate) fn join<RA: Send, RB: Send>(
        self,
        bytes: usize,
        a: impl FnOnce() -> RA + Send,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB) {
        #[cfg(feature = "rayon")]
        if self.splits(bytes) {
            return rayon::join(a, b);
        }
        let _ = bytes;
        (a(), b())
    }

    /// Applies `f` to every item; in parallel, over batches of consecutive
    /// items whose `cost` (bytes) adds up to at least [`BATCH_BYTES`].
    pub(crate) fn for_each_batched<I: Send>(
        self,
        items: &mut [I],
        cost: impl Fn(&I) -> usize,
        f: impl Fn(&mut I) + Sync + Send,
    ) {
        let total: usize = items.iter().map(&cost).sum();
        if items.len() < 2 || !self.splits(total) {
            items.iter_mut().for_each(f);
            return;
        }
        #[cfg(feature = "rayon")]
        {
            let mut batches: Vec<&mut [I]> = Vec::new();
            let mut rest = items;
            while !rest.is_empty() {
                let (mut len, mut bytes) = (0, 0);
                while len < rest.len() && bytes < BATCH_BYTES {
                    bytes += cost(&rest[len]);
                    len += 1;
                }
                let (batch, tail) = rest.split_at_mut(len);
                batches.push(batch);
                rest = tail;
            }
            batches
                .into_par_iter()
                .for_each(|batch| batch.iter_mut().for_each(&f));
        }
    }
}
