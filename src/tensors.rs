//! Taking a model's tensors from the caller: any iterable of things that are
//! slices, checked for matching shapes before anything is written.
//!
//! The caller's traits are untrusted: `AsRef`/`AsMut` may answer differently
//! on each call and an iterator's `size_hint` may lie. So every item's
//! `as_ref`/`as_mut` is called exactly once, before any kernel runs, and
//! everything after works on the slices those calls returned; items are
//! collected by a plain loop that trusts `size_hint` only for a bounded
//! first reservation.

use crate::element::{Element, Lane};
use crate::error::Error;
use crate::kernels::ops::{AddGradient, Coefficients};

/// The items of `iter`, in order. std's `collect` reserves by the
/// `size_hint`'s lower bound, which a lying iterator can make `usize::MAX`
/// (a capacity-overflow panic); here the hint only sizes a first
/// reservation of at most [`TRUSTED_HINT`] items, which saves a model's
/// call the reallocations of a growing `Vec`.
pub(crate) fn collect_items<I: IntoIterator>(iter: I) -> Vec<I::Item> {
    let iter = iter.into_iter();
    let mut items = Vec::with_capacity(iter.size_hint().0.min(TRUSTED_HINT));
    for item in iter {
        items.push(item);
    }
    items
}

/// The most items a `size_hint` reserves room for.
const TRUSTED_HINT: usize = 4096;

/// Collects `tensors` and hands `f` their mutable slices, one `as_mut` each.
pub(crate) fn with_mut_slices<T, I, R>(tensors: I, f: impl FnOnce(Vec<&mut [T]>) -> R) -> R
where
    I: IntoIterator,
    I::Item: AsMut<[T]>,
{
    let mut items = collect_items(tensors);
    f(collect_items(items.iter_mut().map(AsMut::as_mut)))
}

/// Collects `params` and `grads` (one `as_ref`/`as_mut` each), checks that
/// they pair up (same count, same length tensor by tensor) and hands `f` the
/// gradient passes with coefficients `k`; on a mismatch, returns the error
/// without calling `f`, so nothing is written.
pub(crate) fn with_gradient_passes<T, P, G, R>(
    params: P,
    grads: G,
    k: Coefficients<Lane<T>>,
    f: impl FnOnce(Vec<AddGradient<'_, T>>) -> R,
) -> Result<R, Error>
where
    T: Element,
    P: IntoIterator,
    P::Item: AsRef<[T]>,
    G: IntoIterator,
    G::Item: AsMut<[T]>,
{
    let params = collect_items(params);
    let mut grads = collect_items(grads);
    let params: Vec<&[T]> = collect_items(params.iter().map(AsRef::as_ref));
    let grads: Vec<&mut [T]> = collect_items(grads.iter_mut().map(AsMut::as_mut));
    check_lengths(
        params.iter().map(|p| p.len()),
        grads.iter().map(|g| g.len()),
    )?;
    let mut passes = Vec::with_capacity(params.len());
    for (w, g) in params.into_iter().zip(grads) {
        passes.push(AddGradient::new(w, g, k)?);
    }
    Ok(f(passes))
}

/// `Ok` if params and grads of these lengths pair up: the same count, then
/// the same length tensor by tensor (the first that differs is named).
pub(crate) fn check_lengths(
    params: impl ExactSizeIterator<Item = usize>,
    grads: impl ExactSizeIterator<Item = usize>,
) -> Result<(), Error> {
    if params.len() != grads.len() {
        return Err(Error::TensorCountMismatch {
            params: params.len(),
            grads: grads.len(),
        });
    }
    for (index, (p, g)) in params.zip(grads).enumerate() {
        if p != g {
            return Err(Error::LengthMismatch {
                index,
                params: p,
                grads: g,
            });
        }
    }
    Ok(())
}
