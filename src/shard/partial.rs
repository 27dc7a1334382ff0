//! Partials: the subtree totals a rank's pieces cover, planning, and the
//! merge that finishes the canonical trees.

use core::ops::Range;

use super::layout::{Layout, Piece};
use crate::element::Element;
use crate::error::Error;
use crate::kernels::ops::Rows;
use crate::kernels::{Sums, Tier};
use crate::order::left_chunks;
use crate::parallel::Par;
use crate::reduce::{self, Which, canonical_nan_sums};
use crate::tensors::check_lengths;

/// The sums of one subtree of a tensor's canonical tree: super-chunks
/// `first..first + chunks` of tensor `tensor`.
///
/// ```
/// use regnorm::shard::{Layout, Piece};
/// let w = vec![1.0f32; 60_000]; // 4 super-chunks: a tree of [0, 1] and [2, 3]
/// let layout = Layout::<f32>::new([w.len()]);
/// // Elements 32768.. are super-chunks 2 and 3: the tree's right subtree.
/// let part = regnorm::Exec::new().partial_sums(&layout, &[Piece::new(0, 32_768, &w[32_768..])]);
/// let node = part.nodes()[0];
/// assert_eq!((part.nodes().len(), node.tensor, node.first, node.chunks), (1, 0, 2, 2));
/// assert_eq!(node.sums.abs, 27_232.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Node {
    /// The tensor.
    pub tensor: usize,
    /// The subtree's first super-chunk.
    pub first: usize,
    /// The number of super-chunks under it (at least 1).
    pub chunks: usize,
    /// Its Σ|w| and Σw² (those the call computed; `0` for the others).
    pub sums: Sums,
}

/// One rank's share of a sharded model's sums: the totals of the canonical
/// trees' subtrees its pieces cover, or the error that stopped it, tagged
/// with its [`Layout`]'s fingerprint. See the [module docs](crate::shard).
///
/// ```
/// use regnorm::shard::{Layout, Partial, Piece};
/// let w = vec![2.0f64; 10];
/// let layout = Layout::<f64>::new([10]);
/// let part = regnorm::Exec::new().partial_sum_sq(&layout, &[Piece::new(0, 0, &w[..])]);
/// assert_eq!(Partial::decode(&part.encode())?, part);
/// assert_eq!(Partial::merge(&layout, &[part])?.total.sq, 40.0);
/// # Ok::<(), regnorm::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Partial {
    pub(super) fingerprint: u64,
    pub(super) error: Option<Error>,
    pub(super) nodes: Vec<Node>,
}

/// The merged sums: per tensor, and over the model (in order, as
/// [`Exec::model_sums`](crate::Exec::model_sums) adds them).
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// Each tensor's sums, as [`Exec::sums`](crate::Exec::sums) of the whole tensor gives them.
    pub tensors: Vec<Sums>,
    /// The model's sums.
    pub total: Sums,
}

impl Partial {
    /// A partial that carries `error` instead of sums: what a rank sends
    /// when its own input is bad, so that every rank's merge returns
    /// `error` (and no rank waits for it).
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial};
    /// let layout = Layout::<f32>::new([4]);
    /// let bad = Partial::failed(&layout, regnorm::Error::InvalidLambda { lambda: -1.0 });
    /// assert_eq!(Partial::merge(&layout, &[bad]), Err(regnorm::Error::InvalidLambda { lambda: -1.0 }));
    /// ```
    pub fn failed<T: Element>(layout: &Layout<T>, error: Error) -> Partial {
        Partial {
            fingerprint: layout.fingerprint,
            error: Some(error),
            nodes: Vec::new(),
        }
    }

    /// The partial of `pieces` without their sums (all `0`): the subtrees
    /// they cover, or the first piece's error. Merging plans checks a
    /// layout before anything is computed or written.
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let layout = Layout::<f32>::new([40_000]);
    /// let w = vec![0.0f32; 20_000];
    /// let rank0 = Partial::plan(&layout, &[Piece::new(0, 0, &w[..])]);
    /// let err = Partial::merge(&layout, &[rank0]).unwrap_err();
    /// assert!(err.to_string().contains("multiple of 16384"));
    /// ```
    pub fn plan<T: Element, S: AsRef<[T]>>(layout: &Layout<T>, pieces: &[Piece<S>]) -> Partial {
        let mut nodes = Vec::new();
        for p in pieces {
            if let Err(e) = cover(
                layout,
                p.tensor,
                p.offset,
                p.data.as_ref().len(),
                &mut nodes,
            ) {
                return Partial::failed(layout, e);
            }
        }
        Partial {
            fingerprint: layout.fingerprint,
            error: None,
            nodes: nodes.into_iter().map(|(node, _)| node).collect(),
        }
    }

    /// [`plan`](Partial::plan) for a pass that also writes gradients:
    /// besides the pieces, checks that `grads[i]` pairs with `params[i]`
    /// (else [`Error::TensorCountMismatch`] or [`Error::LengthMismatch`]
    /// naming the piece). What a transport merges before any gradient is
    /// written, so that a bad layout or pairing on any rank changes none.
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let layout = Layout::<f32>::new([4]);
    /// let w = [1.0f32; 4];
    /// let plan = Partial::plan_paired(&layout, &[Piece::new(0, 0, &w[..])], &[vec![0.0f32; 3]]);
    /// assert_eq!(plan.error(), Some(regnorm::Error::LengthMismatch { index: 0, params: 4, grads: 3 }));
    /// ```
    pub fn plan_paired<T: Element, G: AsRef<[T]>>(
        layout: &Layout<T>,
        params: &[Piece<&[T]>],
        grads: &[G],
    ) -> Partial {
        match check_piece_pairs(params, grads) {
            Ok(()) => Partial::plan(layout, params),
            Err(e) => Partial::failed(layout, e),
        }
    }

    /// The subtrees and their sums.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f32>::new([]);
    /// assert!(regnorm::shard::Partial::plan::<f32, &[f32]>(&layout, &[]).nodes().is_empty());
    /// ```
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The local error this partial carries, if any.
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial};
    /// let layout = Layout::<f32>::new([4]);
    /// let e = regnorm::Error::InvalidStep { eta: -1.0 };
    /// assert_eq!(Partial::failed(&layout, e).error(), Some(e));
    /// ```
    pub fn error(&self) -> Option<Error> {
        self.error
    }

    /// Merges the partials of all ranks (in rank order: every rank must
    /// pass the same list) into the sums one process computes over the
    /// whole model, bit for bit.
    ///
    /// # Errors
    /// Checked in this order, so every rank gets the same error:
    /// * the first partial (in order) made for another layout than partial
    ///   0: [`Error::LayoutMismatch`];
    /// * the first partial that carries an error: that error;
    /// * a tensor element covered twice: [`Error::ShardOverlap`]; an element
    ///   no piece covers: [`Error::ShardGap`] (first tensor, then first
    ///   offset);
    /// * subtrees that do not fit the canonical tree (a partial not made by
    ///   regnorm): [`Error::MalformedPartial`].
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let layout = Layout::<f32>::new([10, 20]);
    /// let w = vec![1.0f32; 20];
    /// let only_0 = regnorm::Exec::new().partial_sums(&layout, &[Piece::new(0, 0, &w[..10])]);
    /// let err = Partial::merge(&layout, &[only_0]).unwrap_err();
    /// assert_eq!(err, regnorm::Error::ShardGap { tensor: 1, offset: 0 });
    /// ```
    pub fn merge<T: Element>(layout: &Layout<T>, parts: &[Partial]) -> Result<Merged, Error> {
        let fingerprint = parts.first().map_or(layout.fingerprint, |p| p.fingerprint);
        if let Some(part) = parts.iter().position(|p| p.fingerprint != fingerprint) {
            return Err(Error::LayoutMismatch { part });
        }
        if let Some(e) = parts.iter().find_map(|p| p.error) {
            return Err(e);
        }
        if fingerprint != layout.fingerprint {
            // Every rank agreed on another layout than this one's: only a
            // caller mixing partials of different calls gets here.
            return Err(Error::LayoutMismatch { part: 0 });
        }
        let mut nodes: Vec<Node> = parts.iter().flat_map(|p| p.nodes.iter().copied()).collect();
        nodes.sort_unstable_by_key(|n| (n.tensor, n.first, n.chunks));
        if nodes.last().is_some_and(|n| n.tensor >= layout.tensors()) {
            return Err(Error::MalformedPartial);
        }
        let unit = layout.unit();
        let mut tensors = Vec::with_capacity(layout.tensors());
        let mut rest = &nodes[..];
        for (tensor, &len) in layout.lens.iter().enumerate() {
            let count = rest.iter().take_while(|n| n.tensor == tensor).count();
            let (mine, tail) = rest.split_at(count);
            rest = tail;
            let chunks = len.div_ceil(unit);
            if mine
                .iter()
                .any(|n| n.first.checked_add(n.chunks).is_none_or(|end| end > chunks))
            {
                return Err(Error::MalformedPartial);
            }
            let mut covered = 0;
            for n in mine {
                if n.first < covered {
                    return Err(Error::ShardOverlap {
                        tensor,
                        offset: n.first * unit,
                    });
                }
                if n.first > covered {
                    break;
                }
                covered = n.first + n.chunks;
            }
            if covered < chunks {
                return Err(Error::ShardGap {
                    tensor,
                    offset: covered * unit,
                });
            }
            let mut next = 0;
            let sums = if chunks == 0 {
                Sums::ZERO
            } else {
                subtree(mine, &mut next, 0, chunks)?
            };
            if next != mine.len() {
                return Err(Error::MalformedPartial);
            }
            tensors.push(canonical_nan_sums(sums));
        }
        let total = canonical_nan_sums(tensors.iter().fold(Sums::ZERO, |acc, &s| acc + s));
        Ok(Merged { tensors, total })
    }
}

/// `Ok` if `grads[i]` pairs with `params[i]`: the same count, the same
/// length piece by piece.
pub(crate) fn check_piece_pairs<T, G: AsRef<[T]>>(
    params: &[Piece<&[T]>],
    grads: &[G],
) -> Result<(), Error> {
    check_lengths(
        params.iter().map(|p| p.data.len()),
        grads.iter().map(|g| g.as_ref().len()),
    )
}

/// The total of the canonical subtree over super-chunks `first..first +
/// chunks`, from `nodes[*next..]` (sorted, tiling the tensor), which it
/// consumes.
fn subtree(nodes: &[Node], next: &mut usize, first: usize, chunks: usize) -> Result<Sums, Error> {
    let node = nodes.get(*next).ok_or(Error::MalformedPartial)?;
    if node.first == first && node.chunks == chunks {
        *next += 1;
        return Ok(node.sums);
    }
    if node.first != first || chunks < 2 || node.chunks > chunks {
        return Err(Error::MalformedPartial);
    }
    let left = left_chunks(chunks);
    let l = subtree(nodes, next, first, left)?;
    let r = subtree(nodes, next, first + left, chunks - left)?;
    Ok(l + r)
}

/// Checks the piece `offset..offset + len` of tensor `tensor` and appends
/// the canonical subtrees that tile it, each with its element range
/// relative to the piece's start.
fn cover<T: Element>(
    layout: &Layout<T>,
    tensor: usize,
    offset: usize,
    len: usize,
    out: &mut Vec<(Node, Range<usize>)>,
) -> Result<(), Error> {
    let tensor_len = layout.len_or_err(tensor)?;
    let end = offset.checked_add(len).ok_or(Error::ShardOutOfRange {
        tensor,
        start: offset,
        end: usize::MAX,
        tensor_len,
    })?;
    layout.check(tensor, offset..end)?;
    let unit = layout.unit();
    // The piece's super-chunks: `from..to` (the last may be the tensor's
    // partial one).
    let (from, to) = (offset / unit, end.div_ceil(unit));
    let visit = |first: usize, chunks: usize, out: &mut Vec<(Node, Range<usize>)>| {
        let start = first * unit - offset;
        let stop = ((first + chunks) * unit).min(tensor_len) - offset;
        out.push((
            Node {
                tensor,
                first,
                chunks,
                sums: Sums::ZERO,
            },
            start..stop,
        ));
    };
    descend(0, tensor_len.div_ceil(unit), from, to, &mut |f, c| {
        visit(f, c, out)
    });
    Ok(())
}

/// Calls `found` for the maximal subtrees of the canonical tree over
/// super-chunks `first..first + chunks` that lie inside `from..to`, in
/// order.
fn descend(
    first: usize,
    chunks: usize,
    from: usize,
    to: usize,
    found: &mut impl FnMut(usize, usize),
) {
    let last = first + chunks;
    if chunks == 0 || to <= first || last <= from {
        return;
    }
    if from <= first && last <= to {
        found(first, chunks);
        return;
    }
    let left = left_chunks(chunks);
    descend(first, left, from, to, found);
    descend(first + left, chunks - left, from, to, found);
}

/// Runs `passes` (one per piece, with the piece's tensor and offset) over
/// the subtrees they cover and returns their partial; `which` says which
/// sums.
pub(crate) fn partial_of<T, R>(
    layout: &Layout<T>,
    pieces: Vec<(usize, usize, R)>,
    which: Which,
    tier: Tier,
    par: Par,
) -> Partial
where
    T: Element,
    R: Rows<Elem = T>,
{
    let mut nodes = Vec::new();
    let mut passes = Vec::new();
    for (tensor, offset, pass) in pieces {
        let before = nodes.len();
        if let Err(e) = cover(layout, tensor, offset, pass.len(), &mut nodes) {
            return Partial::failed(layout, e);
        }
        // Cut the piece's pass at its subtrees' bounds, which tile it.
        let mut rest = pass;
        let mut at = 0;
        for (_, range) in &nodes[before..] {
            let (node, tail) = rest.split_at(range.end - at);
            at = range.end;
            passes.push(node);
            rest = tail;
        }
    }
    let totals = reduce::run_model(passes, which, tier, par);
    Partial {
        fingerprint: layout.fingerprint,
        error: None,
        nodes: nodes
            .into_iter()
            .zip(totals)
            .map(|((node, _), t)| Node {
                sums: t.sums,
                ..node
            })
            .collect(),
    }
}
