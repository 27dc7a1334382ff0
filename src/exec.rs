//! How a call runs: which kernel tier, and whether it may use threads; and
//! every method of [`Exec`], the reductions a caller runs through it.

use crate::element::Element;
use crate::error::Error;
use crate::kernels::ops::Read;
use crate::kernels::{Sums, Tier};
use crate::parallel::Par;
use crate::reduce::{self, Which};
use crate::shard::{Layout, Partial, Piece, partial_of};
use crate::tensors::collect_items;

/// How regnorm runs a call: the kernel tier, and whether large inputs are
/// split across rayon threads.
///
/// [`Exec::new`] (the default) runs the best tier of this CPU and, with the
/// `rayon` feature (on by default), splits inputs of 256 KiB or more over
/// the calling thread and regnorm's helper threads (one per further core,
/// polling for 300 µs after their last job, then asleep), using at most as
/// many threads as the rayon pool the call is made from has: the global
/// pool, or your own inside [`rayon::ThreadPool::install`]. Every choice
/// returns the same bits.
///
/// ```
/// use regnorm::{Exec, Tier};
/// let x: Vec<f32> = (0..1_000_000).map(|i| (i as f32).sin()).collect();
///
/// let parallel = Exec::new().sum_sq(&x);
/// let sequential = Exec::sequential().sum_sq(&x);
/// let scalar = Exec::sequential().with_tier(Tier::Scalar)?.sum_sq(&x);
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
/// let in_pool = pool.install(|| Exec::new().sum_sq(&x));
///
/// assert_eq!(parallel.to_bits(), sequential.to_bits());
/// assert_eq!(parallel.to_bits(), scalar.to_bits());
/// assert_eq!(parallel.to_bits(), in_pool.to_bits());
/// # Ok::<(), regnorm::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exec {
    tier: Option<Tier>,
    parallel: bool,
}

impl Default for Exec {
    fn default() -> Exec {
        Exec::new()
    }
}

impl Exec {
    /// The best tier of this CPU; parallel if the `rayon` feature is on.
    ///
    /// ```
    /// assert_eq!(regnorm::Exec::new().tier(), regnorm::Tier::best());
    /// ```
    pub const fn new() -> Exec {
        Exec {
            tier: None,
            parallel: cfg!(feature = "rayon"),
        }
    }

    /// The best tier of this CPU, on the calling thread only.
    ///
    /// ```
    /// assert!(!regnorm::Exec::sequential().is_parallel());
    /// ```
    pub const fn sequential() -> Exec {
        Exec {
            tier: None,
            parallel: false,
        }
    }

    /// The same, with threads allowed or not (allowing them has no effect
    /// without the `rayon` feature).
    ///
    /// ```
    /// let exec = regnorm::Exec::new().with_parallel(false);
    /// assert_eq!(exec, regnorm::Exec::sequential());
    /// ```
    pub const fn with_parallel(self, parallel: bool) -> Exec {
        Exec {
            parallel: parallel && cfg!(feature = "rayon"),
            ..self
        }
    }

    /// The same, pinned to `tier`.
    ///
    /// # Errors
    /// [`Error::TierUnavailable`] if this CPU cannot run `tier`.
    ///
    /// ```
    /// use regnorm::{Exec, Tier};
    /// let exec = Exec::new().with_tier(Tier::Portable)?;
    /// assert_eq!(exec.tier(), Tier::Portable);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn with_tier(self, tier: Tier) -> Result<Exec, Error> {
        if tier.is_available() {
            Ok(Exec {
                tier: Some(tier),
                ..self
            })
        } else {
            Err(Error::TierUnavailable { tier })
        }
    }

    /// The tier calls run on.
    ///
    /// ```
    /// assert!(regnorm::Exec::new().tier().is_available());
    /// ```
    #[inline]
    pub fn tier(&self) -> Tier {
        self.tier.unwrap_or_else(Tier::best)
    }

    /// Whether large inputs may be split across threads.
    ///
    /// ```
    /// assert_eq!(regnorm::Exec::new().is_parallel(), cfg!(feature = "rayon"));
    /// ```
    pub const fn is_parallel(&self) -> bool {
        self.parallel
    }

    /// Σ|xᵢ| in the canonical order, carried in `f64`.
    ///
    /// ```
    /// assert_eq!(regnorm::Exec::sequential().sum_abs(&[1.5f32, -2.5]), 4.0);
    /// ```
    #[inline]
    pub fn sum_abs<T: Element>(&self, x: &[T]) -> f64 {
        reduce::sums(x, Which::Abs, self.tier(), self.par()).abs
    }

    /// Σxᵢ² in the canonical order, carried in `f64`.
    ///
    /// ```
    /// assert_eq!(regnorm::Exec::sequential().sum_sq(&[3.0f64, -4.0]), 25.0);
    /// ```
    #[inline]
    pub fn sum_sq<T: Element>(&self, x: &[T]) -> f64 {
        reduce::sums(x, Which::Sq, self.tier(), self.par()).sq
    }

    /// Σ|xᵢ| and Σxᵢ² in one pass over `x`; each is bitwise equal to the
    /// separate call.
    ///
    /// ```
    /// let s = regnorm::Exec::new().sums(&[3.0f32, -4.0]);
    /// assert_eq!((s.abs, s.sq), (7.0, 25.0));
    /// ```
    #[inline]
    pub fn sums<T: Element>(&self, x: &[T]) -> Sums {
        reduce::sums(x, Which::Both, self.tier(), self.par())
    }

    /// Σ|w| and Σw² over a whole model in one pass: the `f64` sum, in order,
    /// of every tensor's sums. Accepts `&[&[T]]`, `&[Vec<T>]`, or any
    /// iterator of things that are slices.
    ///
    /// ```
    /// let (a, b) = (vec![1.0f32; 3], vec![-2.0f32; 2]);
    /// let s = regnorm::Exec::new().model_sums(&[&a[..], &b[..]]);
    /// assert_eq!((s.abs, s.sq), (7.0, 11.0));
    /// let s = regnorm::Exec::new().model_sums([a, b].iter());
    /// assert_eq!((s.abs, s.sq), (7.0, 11.0));
    /// ```
    pub fn model_sums<T, I>(&self, tensors: I) -> Sums
    where
        T: Element,
        I: IntoIterator,
        I::Item: AsRef<[T]>,
    {
        self.model(tensors, Which::Both)
    }

    pub(crate) fn model<T, I>(&self, tensors: I, which: Which) -> Sums
    where
        T: Element,
        I: IntoIterator,
        I::Item: AsRef<[T]>,
    {
        // One `as_ref` per item: `model_sums` iterates once.
        let items = collect_items(tensors);
        reduce::model_sums(
            items.iter().map(AsRef::as_ref),
            which,
            self.tier(),
            self.par(),
        )
    }

    pub(crate) fn par(&self) -> Par {
        if self.parallel {
            Par::threads()
        } else {
            Par::Sequential
        }
    }
}

// Whole models: per-tensor norms.
impl Exec {
    /// The L2 norm `√Σx²` of every tensor, in one call (PyTorch's
    /// `_foreach_norm`): small tensors batched, large ones split.
    ///
    /// ```
    /// let norms = regnorm::Exec::new().tensor_norms(&[vec![3.0f32, 4.0], vec![], vec![-2.0]]);
    /// assert_eq!(norms, vec![5.0, 0.0, 2.0]);
    /// ```
    pub fn tensor_norms<T, I>(&self, tensors: I) -> Vec<f64>
    where
        T: Element,
        I: IntoIterator,
        I::Item: AsRef<[T]>,
    {
        // One `as_ref` per item: `run_model` iterates once.
        let items = collect_items(tensors);
        let reads = items.iter().map(|t| Read(t.as_ref()));
        reduce::run_model(reads, Which::Sq, self.tier(), self.par())
            .map(|t| t.sums.sq.sqrt())
            .collect()
    }
}

// Sharded models: a rank's partial sums (see `crate::shard`).
impl Exec {
    pub(crate) fn partial<T: Element, S: AsRef<[T]>>(
        &self,
        layout: &Layout<T>,
        pieces: &[Piece<S>],
        which: Which,
    ) -> Partial {
        let reads = pieces
            .iter()
            .map(|p| (p.tensor, p.offset, Read(p.data.as_ref())))
            .collect();
        partial_of(layout, reads, which, self.tier(), self.par())
    }

    /// Σ|w| and Σw² of a rank's pieces as a [`Partial`] (one pass over
    /// memory); a bad piece is recorded in it (see the [`shard`](crate::shard)
    /// docs).
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let w = vec![-1.0f32; 50_000];
    /// let layout = Layout::<f32>::new([w.len()]);
    /// let parts: Vec<Partial> = layout.split(0, 3)?.into_iter()
    ///     .map(|r| regnorm::Exec::new().partial_sums(&layout, &[Piece::new(0, r.start, &w[r])]))
    ///     .collect();
    /// assert_eq!(Partial::merge(&layout, &parts)?.total, regnorm::sums(&w));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn partial_sums<T: Element, S: AsRef<[T]>>(
        &self,
        layout: &Layout<T>,
        pieces: &[Piece<S>],
    ) -> Partial {
        self.partial(layout, pieces, Which::Both)
    }

    /// Σ|w| alone of a rank's pieces as a [`Partial`] (`sq` is `0`).
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let layout = Layout::<f64>::new([2]);
    /// let part = regnorm::Exec::new().partial_sum_abs(&layout, &[Piece::new(0, 0, &[1.0, -2.0][..])]);
    /// assert_eq!(Partial::merge(&layout, &[part])?.total.abs, 3.0);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn partial_sum_abs<T: Element, S: AsRef<[T]>>(
        &self,
        layout: &Layout<T>,
        pieces: &[Piece<S>],
    ) -> Partial {
        self.partial(layout, pieces, Which::Abs)
    }

    /// Σw² alone of a rank's pieces as a [`Partial`] (`abs` is `0`): what
    /// a global gradient norm and per-tensor norms need.
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let layout = Layout::<f64>::new([2]);
    /// let part = regnorm::Exec::new().partial_sum_sq(&layout, &[Piece::new(0, 0, &[3.0, -4.0][..])]);
    /// assert_eq!(Partial::merge(&layout, &[part])?.total.sq.sqrt(), 5.0);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn partial_sum_sq<T: Element, S: AsRef<[T]>>(
        &self,
        layout: &Layout<T>,
        pieces: &[Piece<S>],
    ) -> Partial {
        self.partial(layout, pieces, Which::Sq)
    }
}
