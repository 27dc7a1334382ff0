//! The canonical summation order: the one definition of every result.
//!
//! Every constant and rule of the order lives in this module; the kernels,
//! the tree over threads and the sharded merge all cite it.
//!
//! # The order
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
//! **Why these numbers.** `L` registers' worth of lanes are the independent
//! addition chains a core runs: 64 `f32` lanes are four AVX-512 or eight
//! AVX registers per sum, enough to cover a 4-cycle add latency at one
//! vector per cycle. Squares are fused multiply-adds, one instruction
//! instead of two, on every x86_64 CPU since 2013 and every aarch64 CPU
//! (the portable tier falls back to std's exact software `mul_add`
//! elsewhere: slow, the same bits). [`ROWS`] rows per block spend the
//! per-block fold over 16 KiB. 64 KiB super-chunks let two threads split
//! inputs from 128 KiB on, and shard a tensor at a finer grain. The
//! measurements behind these choices, and the `--cfg regnorm_rows_32` /
//! `--cfg regnorm_unfused_squares` builds that rerun them, are in
//! `docs/order.md`.
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
//! which [`relative_error_bound`](crate::relative_error_bound) evaluates: `3.82e-6` for `f32` and
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

use crate::element::Element;
use crate::kernels::lanes::Float;

/// Lanes `L` of an `f32` (and `bf16`, `f16`) sum.
pub const LANES_F32: usize = 64;
/// Lanes `L` of an `f64` sum.
pub const LANES_F64: usize = 32;

/// Rows of `L` lanes in one block: every lane adds at most this many terms
/// in the lane type before its total moves to `f64` (step 2).
/// (`--cfg regnorm_rows_32` builds the order with 32 rows, to measure what
/// 64 give; its bits differ.)
pub const ROWS: usize = if cfg!(regnorm_rows_32) { 32 } else { 64 };

/// Blocks in one super-chunk (step 4).
pub const BLOCKS_PER_SUPER: usize = 4;

/// Elements in one block of `T`: `ROWS × L` (step 1).
pub(crate) const fn block_len<T: Element>() -> usize {
    ROWS * T::LANES
}

/// Elements in one super-chunk of `T` (step 4).
pub(crate) const fn super_len<T: Element>() -> usize {
    BLOCKS_PER_SUPER * block_len::<T>()
}

/// Step 5's split: a run of `c > 1` super-chunks is its first `⌈c/2⌉` and
/// the rest (the tree the threads split and the sharded merge follows).
pub(crate) const fn left_chunks(c: usize) -> usize {
    c.div_ceil(2)
}

/// Step 3, the fixed lane-folding tree: with `w` = L/2, L/4, ..., 1, lane
/// `i` becomes lane `i` + lane `i + w` for every `i < w`; the result is
/// lane 0. `lanes.len()` must be a power of two.
///
/// The tree gives the same bits for the lanes rotated by any amount: at
/// width `w` it adds the lanes that are `w` apart modulo `2w`, which are the
/// same two values in either order, and addition commutes. The kernel body
/// relies on this to fold its framed rows without rotating them back.
#[inline(always)]
pub(crate) fn fold_tree(lanes: &mut [f64]) -> f64 {
    debug_assert!(lanes.len().is_power_of_two());
    let mut w = lanes.len() / 2;
    while w >= 1 {
        let (low, high) = lanes.split_at_mut(w);
        for (l, h) in low.iter_mut().zip(&high[..w]) {
            *l += *h;
        }
        w /= 2;
    }
    lanes[0]
}

/// The NaN rule: any NaN result is the canonical `f64::NAN`.
#[inline(always)]
pub(crate) fn canonical_nan(v: f64) -> f64 {
    if v.is_nan() { f64::NAN } else { v }
}

/// The error bound of `sum_abs`/`sum_sq` over `len` elements of `T` (see
/// "Error bound" above; [`crate::relative_error_bound`] is its public
/// face).
pub(crate) fn relative_error_bound<T: Element>(len: usize) -> f64 {
    let gamma = |n: u32, u: f64| f64::from(n) * u / (1.0 - f64::from(n) * u);
    let chunks = len.div_ceil(super_len::<T>()).max(1);
    let tree_depth = usize::BITS - (chunks - 1).leading_zeros();
    let f64_adds = T::LANES.ilog2() + (BLOCKS_PER_SUPER as u32 - 1) + tree_depth;
    let lane = gamma(ROWS as u32, T::Lane::UNIT_ROUNDOFF);
    let carry = gamma(f64_adds, f64::EPSILON / 2.0);
    // A margin for the rounding of this very computation.
    (lane + carry + lane * carry) * (1.0 + 1e-9)
}

#[cfg(test)]
mod tests {
    use super::fold_tree;

    /// The property the kernel body's framing relies on: folding lanes
    /// rotated by any amount gives the same bits.
    #[test]
    fn fold_tree_is_rotation_invariant() {
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut order_mattered = 0;
        for len in [1usize, 2, 4, 8, 16, 32] {
            for _ in 0..200 {
                let lanes: Vec<f64> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        // Wide exponents, so that the order of additions matters.
                        f64::from((state >> 40) as u32) * 2f64.powi((state % 60) as i32 - 30)
                    })
                    .collect();
                let expected = fold_tree(&mut lanes.clone()).to_bits();
                for rotation in 0..len {
                    let mut rotated = lanes.clone();
                    rotated.rotate_left(rotation);
                    assert_eq!(
                        fold_tree(&mut rotated).to_bits(),
                        expected,
                        "len {len} rotation {rotation}"
                    );
                }
                // A different order would differ: the data can tell orders apart.
                let sequential: f64 = lanes.iter().sum();
                order_mattered += usize::from(sequential.to_bits() != expected);
            }
        }
        assert!(
            order_mattered > 100,
            "the test data must be sensitive to the order of additions"
        );
    }
}
