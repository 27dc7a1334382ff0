//! The scalar reference: the canonical order written as plain loops.
//!
//! This is the definition every SIMD tier must match bit for bit, and the
//! oracle of the tests. It is written for obviousness, not speed.

use super::Sums;
use super::body::block_len;
use super::lanes::{Float, MAX_LANES, fold_tree};
use crate::element::Element;

/// Σ|x| (if `ABS`) and Σx² (if `SQ`) of `x` in the canonical order.
pub(crate) fn sums<T: Element, const ABS: bool, const SQ: bool>(x: &[T]) -> Sums {
    let lanes = T::LANES;
    let mut total = Sums::ZERO;
    for block in x.chunks(block_len::<T>()) {
        let mut abs = [T::Lane::ZERO; MAX_LANES];
        let mut sq = [T::Lane::ZERO; MAX_LANES];
        for (i, &e) in block.iter().enumerate() {
            let v = e.to_lane();
            abs[i % lanes] = abs[i % lanes] + v.abs();
            sq[i % lanes] = sq[i % lanes] + v * v;
        }
        if ABS {
            total.abs += fold(&abs[..lanes]);
        }
        if SQ {
            total.sq += fold(&sq[..lanes]);
        }
    }
    total
}

/// Widens the lanes to `f64` and folds them with the fixed tree.
fn fold<F: Float>(lanes: &[F]) -> f64 {
    let mut wide = [0.0f64; MAX_LANES];
    for (w, l) in wide.iter_mut().zip(lanes) {
        *w = l.to_f64();
    }
    fold_tree(&mut wide[..lanes.len()])
}
