//! The canonical summation order, above the kernels.
//!
//! For an element type with `L` lanes (32 for `f32`, 16 for `f64`), the sum
//! of the terms `tᵢ` (`|xᵢ|`, or `xᵢ²` computed as one multiply) of a slice
//! `x` is, by definition:
//!
//! 1. **Blocks.** `x` is cut from its start into blocks of `64 × L` elements
//!    (2,048 `f32`, 1,024 `f64`: 8 KiB each); the last may be shorter.
//! 2. **Lanes.** Inside a block, term `i` is added to lane `i mod L`, in
//!    order, in the element type, starting from `+0.0`. A lane thus adds at
//!    most 64 terms. Missing terms of the last block count as `+0.0`, which
//!    changes no lane.
//! 3. **Fold.** The `L` lanes are widened to `f64` and folded by a fixed
//!    tree: with `w = L/2, L/4, …, 1`, lane `i` += lane `i + w` for `i < w`.
//!    Lane 0 is the block total.
//! 4. **Super-chunks.** Blocks are grouped from the start into super-chunks
//!    of 32 blocks (64 Ki `f32`, 32 Ki `f64`: 256 KiB). A super-chunk's total
//!    is the `f64` sum of its block totals, in order.
//! 5. **Tree.** A run of `c > 1` super-chunks is split into the first
//!    `⌈c/2⌉` and the rest; its total is the left total plus the right total,
//!    in `f64`. This tree depends only on the length, never on the threads:
//!    threads take whole subtrees, so every thread count and every tier
//!    gives the same bits.
//! 6. **Models.** The total over several tensors is the `f64` sum of the
//!    tensors' totals, in order.
//!
//! A NaN total is returned as the canonical quiet NaN (`f64::NAN`), so that
//! even NaN results are bitwise identical across tiers and thread counts.

use crate::element::Element;
use crate::kernels::body::{ROWS, block_len};
use crate::kernels::lanes::Float;
use crate::kernels::{self, Sums, Tier};
use crate::parallel::Par;

/// Blocks in one super-chunk.
pub(crate) const BLOCKS_PER_SUPER: usize = 32;

/// Elements in one super-chunk of `T`.
pub(crate) const fn super_len<T: Element>() -> usize {
    BLOCKS_PER_SUPER * block_len::<T>()
}

/// Which of the two sums a call needs; the other is returned as `0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Abs,
    Sq,
    Both,
}

/// The sums `which` asks for of one tensor in the canonical order, NaN made
/// canonical.
pub(crate) fn sums<T: Element>(x: &[T], which: Which, tier: Tier, par: Par) -> Sums {
    canonical_nan(tensor_sums(x, which, tier, par))
}

/// Steps 1 to 5 for one tensor.
fn tensor_sums<T: Element>(x: &[T], which: Which, tier: Tier, par: Par) -> Sums {
    match which {
        Which::Abs => tree::<T, true, false>(x, tier, par),
        Which::Sq => tree::<T, false, true>(x, tier, par),
        Which::Both => tree::<T, true, true>(x, tier, par),
    }
}

/// Steps 4 and 5: super-chunks, then the fixed tree over them.
fn tree<T: Element, const ABS: bool, const SQ: bool>(x: &[T], tier: Tier, par: Par) -> Sums {
    let chunks = x.len().div_ceil(super_len::<T>());
    if chunks <= 1 {
        return kernels::sums::<T, ABS, SQ>(tier, x);
    }
    let (left, right) = x.split_at(chunks.div_ceil(2) * super_len::<T>());
    let (l, r) = par.join(
        size_of_val(x),
        || tree::<T, ABS, SQ>(left, tier, par),
        || tree::<T, ABS, SQ>(right, tier, par),
    );
    l + r
}

/// Step 6: the tensors' totals, computed in parallel batches, added in order.
pub(crate) fn model_sums<T: Element>(tensors: &[&[T]], which: Which, tier: Tier, par: Par) -> Sums {
    let mut totals: Vec<(&[T], Sums)> = tensors.iter().map(|&t| (t, Sums::ZERO)).collect();
    par.for_each_batched(
        &mut totals,
        |(t, _)| size_of_val(*t),
        |(t, total)| *total = tensor_sums(t, which, tier, par),
    );
    canonical_nan(totals.iter().fold(Sums::ZERO, |acc, &(_, t)| acc + t))
}

fn canonical_nan(s: Sums) -> Sums {
    let nan = |v: f64| if v.is_nan() { f64::NAN } else { v };
    Sums {
        abs: nan(s.abs),
        sq: nan(s.sq),
    }
}

/// A bound on the relative error of `sum_abs`/`sum_sq` of `len` elements of
/// `T`, from the canonical order; see [`crate::relative_error_bound`].
///
/// Each term passes through at most 64 roundings in the lane type (the
/// square and 63 additions; the first addition to `+0.0` is exact), then at
/// most `d = log2 L + 31 + ⌈log2 c⌉` additions in `f64` (fold tree, block
/// totals of a super-chunk, the tree over `c` super-chunks). All partial
/// sums are sums of non-negative terms, so `|ŝ − s| ≤ ((1 + γ₆₄)(1 + γ'_d) − 1)·s`
/// with `γₙ = n·u / (1 − n·u)`, `u` the lane type's unit roundoff and `γ'`
/// that of `f64`.
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
