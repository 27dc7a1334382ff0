//! Steps 4 to 6 of the canonical order ([`crate::order`]) above the
//! kernels: super-chunk totals, the fixed tree over them (split over threads
//! at its nodes only, so the thread count never changes the bits), models
//! as in-order sums of their tensors, and the NaN rule on every total.

use crate::element::Element;
use crate::kernels::body::STREAM_BYTES;
use crate::kernels::ops::{Read, Rows};
use crate::kernels::{self, Item, Sums, Tier, Totals, Work};
use crate::order::{canonical_nan, left_chunks, super_len};
use crate::parallel::Par;

/// Which sums a pass reduces; the others are returned as `0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// None: a pure update.
    Neither,
    Abs,
    Sq,
    Both,
}

impl Which {
    /// The sums needed for an L1 term and an L2 term.
    pub(crate) fn of(abs: bool, sq: bool) -> Which {
        match (abs, sq) {
            (false, false) => Which::Neither,
            (true, false) => Which::Abs,
            (false, true) => Which::Sq,
            (true, true) => Which::Both,
        }
    }
}

/// Σ|x| and/or Σx² of one tensor in the canonical order, NaN made canonical.
pub(crate) fn sums<T: Element>(x: &[T], which: Which, tier: Tier, par: Par) -> Sums {
    run(Read(x), which, tier, par).sums
}

/// Runs the pass `rows` over one tensor and reduces it in the canonical
/// order (steps 1 to 5), NaN made canonical. Inlined (see [`tree`]).
#[inline(always)]
pub(crate) fn run<R: Rows>(rows: R, which: Which, tier: Tier, par: Par) -> Totals {
    canonical_nan_totals(tensor(rows, which, tier, par))
}

/// Runs one pass per tensor and returns each tensor's totals, in order,
/// NaN made canonical. Tensors of [`LARGE_TENSOR_BYTES`] or more split their own
/// trees over the threads; the runs of smaller ones between them are split
/// between threads as lists, balanced by bytes, and on each thread the
/// tensors of one super-chunk or less go to the kernels in stretches, one
/// call each ([`Work::Each`]).
pub(crate) fn run_model<R: Rows>(
    passes: impl IntoIterator<Item = R>,
    which: Which,
    tier: Tier,
    par: Par,
) -> ModelTotals<R> {
    let (mut model_bytes, mut all_small) = (0, true);
    let mut items: Vec<Item<R>> = passes
        .into_iter()
        .map(|r| {
            model_bytes += r.bytes();
            all_small &= r.len() <= super_len::<R::Elem>();
            (Some(r), Totals::ZERO)
        })
        .collect();
    let par = par.resolve(model_bytes);
    if all_small && !par.splits(model_bytes) {
        // The common case of a model of small tensors that one thread
        // reads: one kernel call, without looking for stretches.
        small_tensors(&mut items, which, tier);
        return ModelTotals(items.into_iter());
    }
    let bytes = |(r, _): &Item<R>| r.as_ref().map_or(0, Rows::bytes);
    let len = |(r, _): &Item<R>| r.as_ref().map_or(0, Rows::len);
    let tensor_of = |(r, total): &mut Item<R>, par: Par| {
        if let Some(r) = r.take() {
            *total = tensor(r, which, tier, par);
        }
    };
    let on_one_thread = |run: &mut [Item<R>]| {
        in_stretches(
            run,
            |item| len(item) > super_len::<R::Elem>(),
            |small| small_tensors(small, which, tier),
            |item| tensor_of(item, Par::Sequential),
        );
    };
    in_stretches(
        &mut items,
        |item| bytes(item) >= LARGE_TENSOR_BYTES,
        |run| par.for_each_run(run, &bytes, &on_one_thread),
        |item| tensor_of(item, par),
    );
    ModelTotals(items.into_iter())
}

/// The totals of a model's tensors, in order, NaN made canonical: what
/// [`run_model`] returns once every pass has run (a caller that only
/// wanted the passes' writes drops it).
pub(crate) struct ModelTotals<R>(std::vec::IntoIter<Item<R>>);

impl<R> Iterator for ModelTotals<R> {
    type Item = Totals;

    fn next(&mut self) -> Option<Totals> {
        self.0.next().map(|(_, t)| canonical_nan_totals(t))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<R> ExactSizeIterator for ModelTotals<R> {}

/// Runs `single` on each item `apart` picks and `stretch` on each maximal
/// stretch of the others between them, in order.
fn in_stretches<I>(
    mut items: &mut [I],
    apart: impl Fn(&I) -> bool,
    mut stretch: impl FnMut(&mut [I]),
    mut single: impl FnMut(&mut I),
) {
    while !items.is_empty() {
        let end = items.iter().position(&apart).unwrap_or(items.len());
        let (run, rest) = items.split_at_mut(end);
        if !run.is_empty() {
            stretch(run);
        }
        let Some((item, rest)) = rest.split_first_mut() else {
            break;
        };
        single(item);
        items = rest;
    }
}

/// Tensors of at most one super-chunk each, in one kernel call.
fn small_tensors<R: Rows>(items: &mut [Item<R>], which: Which, tier: Tier) {
    let (work, chunk) = (Work::Each(items), super_len::<R::Elem>());
    match which {
        Which::Neither => kernels::run::<R, false, false>(tier, work, chunk),
        Which::Abs => kernels::run::<R, true, false>(tier, work, chunk),
        Which::Sq => kernels::run::<R, false, true>(tier, work, chunk),
        Which::Both => kernels::run::<R, true, true>(tier, work, chunk),
    }
}

/// A model's tensors of at least this many bytes split their own trees over
/// the threads; smaller ones are shared out whole.
pub(crate) const LARGE_TENSOR_BYTES: usize = 1 << 20;

/// Step 6: the tensors' totals added in order, in `f64`.
pub(crate) fn in_order(totals: impl IntoIterator<Item = Totals>) -> Totals {
    canonical_nan_totals(totals.into_iter().fold(Totals::ZERO, |acc, t| acc + t))
}

/// Σ|w| and/or Σw² over a whole model: [`run_model`] of [`Read`], then
/// [`in_order`].
pub(crate) fn model_sums<'a, T: Element>(
    tensors: impl IntoIterator<Item = &'a [T]>,
    which: Which,
    tier: Tier,
    par: Par,
) -> Sums {
    let passes = tensors.into_iter().map(Read);
    in_order(run_model(passes, which, tier, par)).sums
}

#[inline(always)]
fn tensor<R: Rows>(rows: R, which: Which, tier: Tier, par: Par) -> Totals {
    // Streamed if each thread's share is: a tensor split over two cores
    // sits half in each core's L2.
    let bytes = rows.bytes();
    let par = par.resolve(bytes);
    let stream = bytes / par.threads_for(bytes) >= STREAM_BYTES;
    match which {
        Which::Neither => tree::<R, false, false>(rows, tier, par, stream),
        Which::Abs => tree::<R, true, false>(rows, tier, par, stream),
        Which::Sq => tree::<R, false, true>(rows, tier, par, stream),
        Which::Both => tree::<R, true, true>(rows, tier, par, stream),
    }
}

/// Steps 4 and 5: super-chunks, then the fixed tree over them. `stream`
/// (each thread's share of the tensor is larger than its core's L2) only
/// selects the kernel's loop and prefetching.
///
/// Inlined, with [`run`], [`tensor`] and [`leaf`], into the public call:
/// a tensor that one kernel call reduces then reaches the kernel, and its
/// totals the caller, without the pass and the totals being copied through
/// memory at each of these calls.
#[inline(always)]
fn tree<R: Rows, const ABS: bool, const SQ: bool>(
    rows: R,
    tier: Tier,
    par: Par,
    stream: bool,
) -> Totals {
    let chunks = rows.len().div_ceil(super_len::<R::Elem>());
    if chunks <= LEAF_CHUNKS && !par.splits(rows.bytes()) {
        // One kernel call for the whole subtree; the tree over its
        // super-chunks' totals is then the same as recursing. The totals
        // array is sized to the call: clearing 64 entries costs as much as
        // reading a 1,000-element input.
        return if chunks <= 1 {
            leaf::<R, ABS, SQ, 1>(rows, tier, stream, chunks)
        } else {
            leaf::<R, ABS, SQ, LEAF_CHUNKS>(rows, tier, stream, chunks)
        };
    }
    split_tree::<R, ABS, SQ>(rows, tier, par, stream)
}

/// Step 5's split of a tree that one kernel call does not cover: the two
/// subtrees, on two threads if `par` splits.
fn split_tree<R: Rows, const ABS: bool, const SQ: bool>(
    rows: R,
    tier: Tier,
    par: Par,
    stream: bool,
) -> Totals {
    let chunk = super_len::<R::Elem>();
    let chunks = rows.len().div_ceil(chunk);
    let bytes = rows.bytes();
    let (left, right) = rows.split_at(left_chunks(chunks) * chunk);
    let (l, r) = par.join(
        bytes,
        move |par| tree::<R, ABS, SQ>(left, tier, par, stream),
        move |par| tree::<R, ABS, SQ>(right, tier, par, stream),
    );
    l + r
}

/// One kernel call over `chunks <= N` super-chunks, then the tree over
/// their totals.
#[inline(always)]
fn leaf<R: Rows, const ABS: bool, const SQ: bool, const N: usize>(
    mut rows: R,
    tier: Tier,
    stream: bool,
    chunks: usize,
) -> Totals {
    let mut out = [Totals::ZERO; N];
    let chunk = super_len::<R::Elem>();
    let work = Work::Chunks {
        rows: &mut rows,
        stream,
        out: &mut out[..chunks],
    };
    kernels::run::<R, ABS, SQ>(tier, work, chunk);
    if N == 1 {
        // No chunk leaves the zero total.
        out[0]
    } else {
        over_chunks(&out[..chunks])
    }
}

/// The most super-chunks (4 MiB) one kernel call reduces.
const LEAF_CHUNKS: usize = 64;

/// Step 5 over super-chunk totals: the first `⌈c/2⌉` plus the rest.
fn over_chunks(t: &[Totals]) -> Totals {
    match t.len() {
        0 => Totals::ZERO,
        1 => t[0],
        c => {
            let (a, b) = t.split_at(left_chunks(c));
            over_chunks(a) + over_chunks(b)
        }
    }
}

fn canonical_nan_totals(t: Totals) -> Totals {
    Totals {
        sums: canonical_nan_sums(t.sums),
        zeros: t.zeros,
    }
}

/// Each NaN sum made the canonical `f64::NAN` (the order's NaN rule).
pub(crate) fn canonical_nan_sums(s: Sums) -> Sums {
    Sums {
        abs: canonical_nan(s.abs),
        sq: canonical_nan(s.sq),
    }
}
