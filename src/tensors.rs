//! Taking a model's tensors from the caller: any iterable of things that are
//! slices, checked for matching shapes before anything is written.

use crate::error::Error;

/// Collects `tensors` and hands `f` their mutable slices.
pub(crate) fn with_mut_slices<T, I, R>(tensors: I, f: impl FnOnce(Vec<&mut [T]>) -> R) -> R
where
    I: IntoIterator,
    I::Item: AsMut<[T]>,
{
    let mut items: Vec<I::Item> = tensors.into_iter().collect();
    f(items.iter_mut().map(AsMut::as_mut).collect())
}

/// Collects `params` and `grads`, checks that they pair up (same count,
/// same length tensor by tensor) and hands `f` the pairs; on a mismatch,
/// returns the error without calling `f`, so nothing is written.
pub(crate) fn with_pairs<T, P, G, R>(
    params: P,
    grads: G,
    f: impl FnOnce(Vec<(&[T], &mut [T])>) -> R,
) -> Result<R, Error>
where
    P: IntoIterator,
    P::Item: AsRef<[T]>,
    G: IntoIterator,
    G::Item: AsMut<[T]>,
{
    let params: Vec<P::Item> = params.into_iter().collect();
    let mut grads: Vec<G::Item> = grads.into_iter().collect();
    let grads: Vec<&mut [T]> = grads.iter_mut().map(AsMut::as_mut).collect();
    check_lengths(
        params.iter().map(|p| p.as_ref().len()),
        grads.iter().map(|g| g.len()),
    )?;
    Ok(f(params.iter().map(AsRef::as_ref).zip(grads).collect()))
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

/// `Ok` if one parameter tensor and its gradient have one length.
pub(crate) fn check_pair<T>(params: &[T], grads: &[T]) -> Result<(), Error> {
    check_lengths([params.len()].into_iter(), [grads.len()].into_iter())
}
