//! Taking a model's tensors from the caller: any iterable of things that are
//! slices, checked for matching shapes before anything is written.

use crate::error::Error;

/// Collects `tensors` and hands `f` their slices.
pub(crate) fn with_slices<T, I, R>(tensors: I, f: impl FnOnce(&[&[T]]) -> R) -> R
where
    I: IntoIterator,
    I::Item: AsRef<[T]>,
{
    let items: Vec<I::Item> = tensors.into_iter().collect();
    let slices: Vec<&[T]> = items.iter().map(AsRef::as_ref).collect();
    f(&slices)
}

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
    if params.len() != grads.len() {
        return Err(Error::TensorCountMismatch {
            params: params.len(),
            grads: grads.len(),
        });
    }
    let pairs: Vec<(&[T], &mut [T])> = params
        .iter()
        .map(AsRef::as_ref)
        .zip(grads.iter_mut().map(AsMut::as_mut))
        .collect();
    for (index, (p, g)) in pairs.iter().enumerate() {
        check_pair(index, p, g)?;
    }
    Ok(f(pairs))
}

/// `Ok` if tensor `index` of the params and of the grads have one length.
pub(crate) fn check_pair<T>(index: usize, params: &[T], grads: &[T]) -> Result<(), Error> {
    if params.len() == grads.len() {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            index,
            params: params.len(),
            grads: grads.len(),
        })
    }
}
