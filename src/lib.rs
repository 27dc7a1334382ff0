#![doc = include_str!("../README.md")]
//!
//! # The canonical summation order
//!
//! Every result is defined by one order of operations, which every tier and
//! every thread count computes exactly. For an element type with `L` lanes
//! (64 for `f32`, 32 for `f64`), the sum of the terms `tᵢ` of a slice (`|xᵢ|`,
//! or `xᵢ²`) is:
//!
//! 1. **Blocks.** The slice is cut from its start into blocks of `64·L`
//!    elements (4,096 `f32`, 2,048 `f64`: 16 KiB); the last may be shorter.
//! 2. **Lanes.** In a block, term `i` is added to lane `i mod L`, in order, in
//!    the element type, from `+0.0`; a square is added by a fused
//!    multiply-add, `lane ← fma(xᵢ, xᵢ, lane)`, rounded once. A lane adds at
//!    most 64 terms. Missing
//!    terms of the last block count as `+0.0`, which changes no lane.
//! 3. **Fold.** The lanes are widened to `f64` and folded by a fixed tree:
//!    for `w = L/2, L/4, …, 1`, lane `i` += lane `i + w` for every `i < w`.
//! 4. **Super-chunks.** Blocks are grouped from the start into super-chunks of
//!    4 blocks (64 KiB); a super-chunk's total is the `f64` sum of its block
//!    totals in order.
//! 5. **Tree.** A run of `c > 1` super-chunks is split into its first `⌈c/2⌉`
//!    and the rest, and its total is left + right in `f64`. Threads take
//!    whole subtrees of this fixed tree, so they change the speed, never the
//!    bits.
//! 6. **Models.** The sums over several tensors are the `f64` sums of the
//!    tensors' sums, in order. A penalty is then `λ × sum` (ElasticNet:
//!    `λ·(r·Σ|w| + (1 − r)/2·Σw²)`), one more `f64` rounding each.
//!
//! **Why these numbers** (chosen in the speed issue, 2026-11-27, measured on
//! an Intel Xeon with `cargo run --release --example speed_of_light`; the
//! order before it had 32/16 lanes, a separate multiply and add for squares
//! and 256 KiB super-chunks, so every result's last bits changed once then). `L` registers' worth of lanes are
//! the independent addition chains a core runs: 64 `f32` lanes are four
//! AVX-512 or eight AVX registers per sum, enough to cover a 4-cycle add
//! latency (Intel Xeon) at one vector per cycle, the rate a 512-bit load
//! stream from L2 sustains on Xeon and Zen 4, and eight 256-bit chains on
//! AVX2-only CPUs, where two add ports need them. Squares are fused
//! multiply-adds: one instruction instead of two halves the work of `Σw²`
//! on the two 512-bit ports of a Xeon (measured there: `f32` `sum_sq` at
//! 16 Ki elements went from 0.73-0.82 to 0.89-0.96 of the one-thread
//! ceiling; the unfused order is built by `--cfg regnorm_unfused_squares`)
//! and of the fused `Σ|w|` + `Σw²` pass. Every x86_64 CPU since
//! 2013 and every aarch64 CPU has the instruction; the AVX tier requires
//! it, and the portable tier uses std's exact software `mul_add` where the
//! build target has none (slow, but the same bits). 64 rows per block
//! spend the per-block fold (eight `f32`→`f64` conversions per sum) over
//! 16 KiB: 32 rows measured 0.66-0.72 of the ceiling for the fused `sums`
//! pass at 16 Ki `f32`, 64 rows 0.83-0.85 (32 rows: `--cfg
//! regnorm_rows_32`), and the error bound stays what it was. To rerun an
//! A/B: `RUSTFLAGS="--cfg regnorm_rows_32" cargo run --release
//! --target-dir target/ab --example speed_of_light -- 16384`, against the
//! same command without the flag and `--target-dir`. 64 KiB super-chunks let two threads split inputs from 128 KiB on,
//! and shard a tensor at a finer grain.
//!
//! # Error bound
//!
//! Every term is non-negative and passes through at most 64 roundings in the
//! lane type (the fused multiply-add or addition that brings it into its
//! lane, then up to 63 more) and at most
//! `d = log2 L + 3 + ⌈log2 c⌉` additions in `f64`. So, with `u` the lane
//! type's unit roundoff (2⁻²⁴ for `f32`, 2⁻⁵³ for `f64`), `γₙ = n·u/(1 − n·u)`
//! and `γ'` the same for `f64`, the computed sum `ŝ` of the exact sum `s`
//! satisfies
//!
//! ```text
//! |ŝ − s| ≤ ((1 + γ₆₄)(1 + γ'_d) − 1) · s
//! ```
//!
//! which [`relative_error_bound`] evaluates: `3.82e-6` for `f32` and
//! `9.89e-15` for `f64` (2³⁰ elements). This is a worst case; on random data
//! the rounding errors cancel and the observed error is far smaller (see the
//! README's accuracy figures). Two exceptions, both documented behaviour:
//! a square that underflows adds an absolute error of at most half the
//! smallest subnormal (2⁻¹⁵⁰ for `f32`); and a result beyond the element
//! type's range saturates to `+Inf` (next section).
//!
//! # NaN, infinities and range
//!
//! * A NaN anywhere in the input gives NaN (the canonical `f64::NAN`, so
//!   results stay bitwise identical); NaN wins over infinities.
//! * Otherwise, ±Inf in the input gives `+Inf`.
//! * Lanes accumulate in the element type. The result is `+Inf` exactly
//!   when a square, or a lane's running sum, overflows the element type
//!   (for `f32`: `x²` for `|x| > 1.8e19`, or a lane past `f32::MAX ≈ 3.4e38`),
//!   or when the `f64` total overflows. A lane never exceeds the total, so an
//!   exact total below `f32::MAX / (1 + γ₆₄)` is always returned finite and
//!   within the bound; a larger one may be `+Inf`, or finite (when spread
//!   over lanes, e.g. 64 values of 3e38 give 1.9e40). The same holds for
//!   `f64` at `f64::MAX`.
//! * Squares of subnormals underflow (to `0` for `|x| < 2⁻⁷⁵` in `f32`), each
//!   adding at most half the smallest subnormal of absolute error; sums of
//!   absolute values of subnormals are exact.
//! * `-0.0` counts as `0.0`; an empty slice or model gives `0.0`.
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
//!   one, and changes no thread's CPU affinity or priority.
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
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![deny(unsafe_op_in_unsafe_fn)]

mod clip;
mod decay;
mod element;
mod error;
mod exec;
mod kernels;
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
/// Bitwise identical to every other tier and thread count; see the crate docs
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
/// elements of `T` (see "Error bound" in the crate docs).
///
/// ```
/// let x: Vec<f32> = (0..100_000).map(|i| 1.0 + (i % 7) as f32 / 7.0).collect();
/// let exact: f64 = x.iter().map(|&v| f64::from(v)).sum(); // exact here: few bits
/// let err = (regnorm::sum_abs(&x) - exact).abs() / exact;
/// assert!(err <= regnorm::relative_error_bound::<f32>(x.len()));
/// assert!(regnorm::relative_error_bound::<f32>(1 << 30) < 3.9e-6);
/// ```
pub fn relative_error_bound<T: Element>(len: usize) -> f64 {
    reduce::relative_error_bound::<T>(len)
}
