//! SIMD-optimized, multi-threaded, bitwise-reproducible kernels for L1 and
//! L2 regularization: `Σ|w|` and `Σw²` over one tensor or a whole model, the
//! penalties built on them (L1 = `λ·Σ|w|`, L2 = `λ·Σw²`, no ½; ElasticNet as
//! scikit-learn), their gradients, proximal steps, decoupled weight decay and
//! global-norm clipping, for `f32`, `f64`, `bf16` and `f16`.
//!
//! ```
//! use regnorm::{ClipGradNorm, L1, L2, Regularizer};
//!
//! // A model is any list of tensors: &[&[f32]], &[Vec<f32>], an iterator of slices.
//! let params = vec![vec![0.5f32; 3 * 3 * 64], vec![-0.25; 64]];
//! let mut grads = vec![vec![0.0f32; 3 * 3 * 64], vec![0.0; 64]];
//!
//! let l2 = L2::new(1e-4)?;
//! let penalty = l2.penalty_model(&params);
//! // Penalty and gradient (g += 2λw) in one pass over memory, same bits.
//! assert_eq!(l2.penalty_and_gradient_model(&params, &mut grads)?, penalty);
//! // PyTorch's clip_grad_norm_: returns the norm before clipping.
//! let norm = ClipGradNorm::new(1.0)?.clip_model(&mut grads)?;
//! // Soft-thresholding, with exact zeros.
//! let step = L1::new(0.1)?.prox_step_model(&mut grads, 1.0)?;
//! assert_eq!(step.zeros, grads.iter().map(Vec::len).sum::<usize>());
//! // The reductions themselves, results in f64.
//! assert_eq!(regnorm::sum_sq(&[3.0f64, 4.0]), 25.0);
//! // Bad arguments are errors, never panics; mismatched shapes write nothing.
//! assert!(L1::new(-1.0).is_err());
//! assert!(l2.add_gradient_model(&params, &mut grads[..1]).is_err());
//! # let _ = norm;
//! # Ok::<(), regnorm::Error>(())
//! ```
//!
//! What you can rely on:
//!
//! * **One order, the same bits everywhere.** Every result is defined by
//!   the canonical summation order ([`order`]), which every kernel tier
//!   (scalar, portable `wide`/NEON, AVX2+FMA, AVX-512), thread count, MPI
//!   rank count (`regnorm-mpi`, over [`shard`]) and CPU architecture
//!   computes exactly, with a stated error bound
//!   ([`relative_error_bound`]) and documented NaN, infinity and range
//!   rules.
//! * **Speed in a plain build.** The CPU is examined once and the best tier
//!   runs; [`Exec`] pins a tier or keeps a call on one thread.
//! * **A guest in your process.** Threads are limited by
//!   [`set_num_threads`] or `REGNORM_NUM_THREADS`; rayon's global pool is
//!   never created; fork is safe ("Threads" below).
//! * **No panics, no UB** from safe code, including containers whose
//!   `AsRef`/`AsMut` lie; bad input is an [`Error`].
//!
//! Features: `rayon` (default: threads; without it every call runs on its
//! calling thread), `half` (default: `bf16` and `f16`). The repository's
//! README has the benchmarks, the examples and how to run the tests.
//!
//! # The canonical summation order
//!
//! Every result is defined by one order of operations, which every tier,
//! thread count, rank count and CPU architecture computes exactly: blocks of
//! `64·L` elements summed lane by lane in the element type, the lanes folded
//! by a fixed tree in `f64`, 64 KiB super-chunks, a fixed binary tree over
//! them. [`order`] specifies it, with its error bound
//! ([`relative_error_bound`]) and the NaN, infinity and range rules, and
//! holds every one of its constants.
//!
//! # Element-wise updates
//!
//! Gradients, proximal steps, weight decay and clipping's scaling are
//! defined per element by the formulas their methods document, computed in
//! the element type with their coefficients rounded to it once; every tier
//! evaluates the same operations in the same order, so they agree bit for
//! bit (NaN payloads aside: a NaN stays NaN, its payload is unspecified).
//! Passes that also reduce (the fused penalty and gradient, the proximal
//! step's penalty after the step) reduce in the canonical order above, so
//! they equal the separate calls exactly. The gradient adds its terms as
//! fused multiply-adds, `g ← fma(2λ₂, w, g + λ₁·sign(w))`: the L1 term is
//! exact, the L2 term rounds once (before 2026-11-28 it rounded twice, a
//! product then a sum, so gradients with an L2 term can differ from
//! earlier versions in the last bit).
//!
//! Element-wise coefficients are rounded to the element type once: a step
//! size and strength whose product overflows it (η·λ > 3.4e38 for `f32`)
//! give an infinite threshold, which IEEE arithmetic then applies (finite
//! weights go to zero, infinite ones to NaN). A strength of `0` gives a
//! coefficient of exactly `0` (threshold) or `1` (scale) for every valid η,
//! however large: no intermediate product overflows.
//!
//! # Threads
//!
//! A call whose input is 256 KiB or more may split over threads; the split
//! follows the canonical tree, so the thread count never changes the bits.
//!
//! * **How many.** At most [`num_threads`]: the count given to
//!   [`set_num_threads`] if any, else the environment variable
//!   `REGNORM_NUM_THREADS` (read once, at the first call that may split),
//!   else the number of CPUs in the process's affinity mask *at the time of
//!   the call*; at most 64. Inside a rayon pool (`pool.install(..)`, a
//!   `par_iter`), also at most that pool's size. `1` keeps every call on
//!   its calling thread and no thread is ever started. [`Exec::sequential`]
//!   does the same for one call.
//! * **Which threads.** The calling thread always works on a share. The
//!   other shares go to regnorm's own helper threads, named
//!   `regnorm-helper`: started one at a time, the first time a call needs
//!   one more (never more than `num_threads() − 1`), and kept for the life
//!   of the process. A helper polls for work for 300 µs after its last job,
//!   then parks (no CPU) until the next call; a caller waiting for a helper
//!   polls for at most 100 µs, then parks. regnorm never creates rayon's
//!   global pool, never runs work on rayon's threads other than the calling
//!   one, and changes no other thread's CPU affinity or priority. (Linux: a
//!   helper found, or just woken, on its caller's CPU has that CPU taken
//!   out of its own CPU set until it runs elsewhere, then gets the caller's
//!   set back, so that the two do not share one CPU.)
//! * **fork.** A child made by `fork()` has none of its parent's helper
//!   threads; its first split call starts its own (regnorm detects the fork
//!   with a `pthread_atfork` child handler, registered at the first split
//!   call). The parent's helpers are never touched from the child, and a
//!   fork at any moment, even during a first call on another thread,
//!   leaves no lock held in the child.
//! * **Panics.** regnorm's own code does not panic on any input; a panic
//!   in a caller's `AsRef`/`AsMut` happens before anything is written.
//!
//! # Safety
//!
//! `unsafe` code lives in the kernel tiers (`src/kernels/`) and in the helper
//! threads (`src/parallel/crew.rs`: a closure on the caller's stack lent to a
//! long-lived thread; `src/parallel/mod.rs`: reading the CPU mask); every
//! block states why it is sound. No input length or alignment reads outside the
//! slice: tails are read with masked loads (AVX, AVX-512) or copied (portable).

#![warn(missing_docs)]
// The README's examples run as doctests too.
#![cfg_attr(doctest, doc = include_str!("../README.md"))]
#![cfg_attr(doctest, doc = include_str!("../docs/guide.md"))]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![deny(unsafe_op_in_unsafe_fn)]

mod clip;
mod decay;
mod element;
mod error;
mod exec;
mod kernels;
pub mod order;
mod parallel;
mod penalty;
mod reduce;
pub mod shard;
mod tensors;

pub use clip::ClipGradNorm;
pub use decay::WeightDecay;
pub use element::Element;
pub use error::Error;
pub use exec::Exec;
pub use kernels::{Sums, Tier};
pub use parallel::{num_threads, set_num_threads};
pub use penalty::{ElasticNet, L1, L2, ProxStats, Regularizer};

/// Σ|xᵢ|, on the best tier, in parallel for large inputs, carried in `f64`.
///
/// Bitwise identical to every other tier and thread count; see [`order`]
/// for the order, the error bound and the NaN/Inf rules.
///
/// ```
/// assert_eq!(regnorm::sum_abs(&[1.0f32, -2.0, 3.5]), 6.5);
/// assert_eq!(regnorm::sum_abs::<f64>(&[]), 0.0);
/// assert!(regnorm::sum_abs(&[1.0f32, f32::NAN]).is_nan());
/// ```
#[inline]
pub fn sum_abs<T: Element>(x: &[T]) -> f64 {
    Exec::new().sum_abs(x)
}

/// Σxᵢ², on the best tier, in parallel for large inputs, carried in `f64`.
///
/// ```
/// assert_eq!(regnorm::sum_sq(&[3.0f32, -4.0]), 25.0);
/// assert_eq!(regnorm::sum_sq(&[f64::NEG_INFINITY]), f64::INFINITY);
/// ```
#[inline]
pub fn sum_sq<T: Element>(x: &[T]) -> f64 {
    Exec::new().sum_sq(x)
}

/// Σ|xᵢ| and Σxᵢ² in one pass; each bitwise equal to [`sum_abs`] and
/// [`sum_sq`].
///
/// ```
/// let x = [0.5f32, -1.5];
/// let s = regnorm::sums(&x);
/// assert_eq!(s.abs.to_bits(), regnorm::sum_abs(&x).to_bits());
/// assert_eq!(s.sq.to_bits(), regnorm::sum_sq(&x).to_bits());
/// ```
#[inline]
pub fn sums<T: Element>(x: &[T]) -> Sums {
    Exec::new().sums(x)
}

/// The L2 norm `√Σx²` of every tensor of a model, in one call: small
/// tensors batched, large ones split (PyTorch's `_foreach_norm`).
///
/// ```
/// let norms = regnorm::tensor_norms(&[vec![3.0f32, 4.0], vec![-2.0]]);
/// assert_eq!(norms, vec![5.0, 2.0]);
/// ```
pub fn tensor_norms<T, I>(tensors: I) -> Vec<f64>
where
    T: Element,
    I: IntoIterator,
    I::Item: AsRef<[T]>,
{
    Exec::new().tensor_norms(tensors)
}

/// The worst-case relative error of [`sum_abs`]/[`sum_sq`] over `len`
/// elements of `T` (see "Error bound" in [`order`]).
///
/// ```
/// let x: Vec<f32> = (0..100_000).map(|i| 1.0 + (i % 7) as f32 / 7.0).collect();
/// let exact: f64 = x.iter().map(|&v| f64::from(v)).sum(); // exact here: few bits
/// let err = (regnorm::sum_abs(&x) - exact).abs() / exact;
/// assert!(err <= regnorm::relative_error_bound::<f32>(x.len()));
/// assert!(regnorm::relative_error_bound::<f32>(1 << 30) < 3.9e-6);
/// ```
pub fn relative_error_bound<T: Element>(len: usize) -> f64 {
    order::relative_error_bound::<T>(len)
}
