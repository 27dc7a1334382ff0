//! The one kernel body every SIMD tier instantiates.
//!
//! It runs a pass ([`Rows`]) over a run of blocks in the canonical order (see
//! [`crate::reduce`]): blocks of `ROWS × L` elements from the start of the
//! slice; inside a block, the values the pass returns for element `i` go to
//! lane `i mod L`, and the lanes accumulate in the lane type; the last
//! block's missing elements count as zeros; each block's lanes fold in `f64`
//! with the fixed tree, and block totals are added in `f64`, in order. The
//! scalar tier computes the same definition with plain loops.

use super::Totals;
use super::lanes::Group;
use super::ops::Rows;
use crate::element::sealed::Sealed;

/// Rows of `L` lanes in one block: every lane adds at most this many terms
/// in the lane type before its total moves to `f64`.
pub(crate) const ROWS: usize = 64;

/// Elements in one block of `T`: `ROWS × L`.
pub(crate) const fn block_len<T: Sealed>() -> usize {
    ROWS * T::LANES
}

/// Runs `rows` and reduces what it returns: Σ|v| if `ABS`, Σv² if `SQ`, and
/// the zeros if the pass counts them; the sums not asked for are `0`.
///
/// # Safety
/// The CPU must support the instructions of the tier `G` belongs to.
#[inline(always)]
pub(crate) unsafe fn run<G, R, const ABS: bool, const SQ: bool>(rows: &mut R) -> Totals
where
    G: Group,
    R: Rows<Elem = G::Elem>,
{
    let (len, lanes) = (rows.len(), G::LANES);
    let mut total = Totals::ZERO;
    let mut block = 0;
    while block < len {
        let end = len.min(block + ROWS * lanes);
        // SAFETY: for every call below, the CPU has the tier's features (the
        // caller), and each row [start, start + n) ends at or before `end`,
        // so inside the pass, with n <= LANES.
        unsafe {
            let mut acc = (G::zero(), G::zero());
            let mut start = block;
            while start + lanes <= end {
                let v = rows.row::<G>(start, lanes);
                accumulate::<G, R, ABS, SQ>(&mut acc, &mut total.zeros, v, lanes);
                start += lanes;
            }
            if start < end {
                let n = end - start;
                let v = rows.row::<G>(start, n);
                accumulate::<G, R, ABS, SQ>(&mut acc, &mut total.zeros, v, n);
            }
            if ABS {
                total.sums.abs += acc.0.fold();
            }
            if SQ {
                total.sums.sq += acc.1.fold();
            }
        }
        block = end;
    }
    total
}

/// Adds |v| to the abs lanes and v² (a multiply, then an add) to the square
/// lanes, and counts the zeros among the first `n` lanes if the pass asks.
///
/// # Safety
/// As for [`run`]; lanes `n..` of `v` are zero.
#[inline(always)]
unsafe fn accumulate<G, R, const ABS: bool, const SQ: bool>(
    acc: &mut (G, G),
    zeros: &mut usize,
    v: G,
    n: usize,
) where
    G: Group,
    R: Rows<Elem = G::Elem>,
{
    // SAFETY: the caller guarantees the tier's CPU features.
    unsafe {
        if ABS {
            acc.0 = acc.0.add(v.abs());
        }
        if SQ {
            acc.1 = acc.1.add(v.square());
        }
        if R::COUNTS_ZEROS {
            // The zero padding of lanes n.. is not the pass's.
            *zeros += v.count_zeros() as usize - (G::LANES - n);
        }
    }
}
