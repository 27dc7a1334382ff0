//! The one kernel body every SIMD tier instantiates.
//!
//! It sums a run of blocks in the canonical order (see [`crate::reduce`]):
//! blocks of `ROWS × L` elements from the start of the slice; inside a block
//! element `i` goes to lane `i mod L` and the lanes accumulate in the lane
//! type; the last block's missing elements count as zeros; each block's lanes
//! fold in `f64` with the fixed tree, and block totals are added in `f64`,
//! in order. The scalar tier computes the same definition with plain loops.

use super::Sums;
use super::lanes::Group;
use crate::element::sealed::Sealed;

/// Rows of `L` lanes in one block: every lane adds at most this many terms
/// in the lane type before its total moves to `f64`.
pub(crate) const ROWS: usize = 64;

/// Elements in one block of `T`: `ROWS × L`.
pub(crate) const fn block_len<T: Sealed>() -> usize {
    ROWS * T::LANES
}

/// Σ|x| (if `ABS`) and Σx² (if `SQ`) of `x` in the canonical block order;
/// the sum not asked for is `0`.
///
/// # Safety
/// The CPU must support the instructions of the tier `G` belongs to.
#[inline(always)]
pub(crate) unsafe fn sums<G: Group, const ABS: bool, const SQ: bool>(x: &[G::Elem]) -> Sums {
    let mut total = Sums::ZERO;
    for block in x.chunks(ROWS * G::LANES) {
        // SAFETY: for all calls on G below, the caller guarantees the tier's
        // CPU features; `load` gets exactly LANES elements from
        // `chunks_exact`, `load_partial` fewer.
        unsafe {
            let mut acc = (G::zero(), G::zero());
            let mut rows = block.chunks_exact(G::LANES);
            for row in &mut rows {
                accumulate::<G, ABS, SQ>(&mut acc, G::load(row));
            }
            let rest = rows.remainder();
            if !rest.is_empty() {
                accumulate::<G, ABS, SQ>(&mut acc, G::load_partial(rest));
            }
            if ABS {
                total.abs += acc.0.fold();
            }
            if SQ {
                total.sq += acc.1.fold();
            }
        }
    }
    total
}

/// Adds |v| to the abs lanes and v² (a multiply, then an add) to the square
/// lanes.
///
/// # Safety
/// As for [`sums`].
#[inline(always)]
unsafe fn accumulate<G: Group, const ABS: bool, const SQ: bool>(acc: &mut (G, G), v: G) {
    // SAFETY: the caller guarantees the tier's CPU features.
    unsafe {
        if ABS {
            acc.0 = acc.0.add(v.abs());
        }
        if SQ {
            acc.1 = acc.1.add(v.square());
        }
    }
}
