//! The scalar reference: the canonical order written as plain loops.
//!
//! This is the definition every SIMD tier must match bit for bit, and the
//! oracle of the tests. It is written for obviousness, not speed.

use super::Totals;
use super::lanes::{Float, MAX_LANES, UNFUSED_SQUARES};
use super::ops::Rows;
use crate::element::Lane;
use crate::element::sealed::Sealed;
use crate::order::{block_len, fold_tree};

/// Runs `rows` element by element and reduces what it returns: Σ|v| if
/// `ABS`, Σv² if `SQ`, and the zeros if the pass counts them.
/// The totals of each run of `chunk` elements go to `out`, as in the kernel
/// body.
pub(crate) fn run<R: Rows, const ABS: bool, const SQ: bool>(
    rows: &mut R,
    chunk: usize,
    out: &mut [Totals],
) {
    let lanes = R::Elem::LANES;
    let (mut total, mut done) = (Totals::ZERO, 0);
    let mut block = 0;
    while block < rows.len() {
        let end = rows.len().min(block + block_len::<R::Elem>());
        let mut abs = [Lane::<R::Elem>::ZERO; MAX_LANES];
        let mut sq = [Lane::<R::Elem>::ZERO; MAX_LANES];
        for i in block..end {
            let v = rows.element(i);
            let lane = (i - block) % lanes;
            abs[lane] = abs[lane] + v.abs();
            sq[lane] = if UNFUSED_SQUARES {
                sq[lane] + v * v
            } else {
                v.mul_add(v, sq[lane])
            };
            if R::COUNTS_ZEROS && v == Lane::<R::Elem>::ZERO {
                total.zeros += 1;
            }
        }
        if ABS {
            total.sums.abs += fold(&abs[..lanes]);
        }
        if SQ {
            total.sums.sq += fold(&sq[..lanes]);
        }
        block = end;
        if block % chunk == 0 || block == rows.len() {
            out[done] = total;
            done += 1;
            total = Totals::ZERO;
        }
    }
}

/// Widens the lanes to `f64` and folds them with the fixed tree.
fn fold<F: Float>(lanes: &[F]) -> f64 {
    let mut wide = [0.0f64; MAX_LANES];
    for (w, l) in wide.iter_mut().zip(lanes) {
        *w = l.to_f64();
    }
    fold_tree(&mut wide[..lanes.len()])
}
