//! Sharded models: partial sums that any transport can carry, and a merge
//! that gives the bits one process computes over the whole model.
//!
//! When a model's tensors are spread over several processes (ranks), each
//! rank holds *pieces*: whole tensors, or contiguous ranges of a tensor. The
//! canonical order ([`crate::order`]) is a fixed tree over each tensor's 64 KiB
//! super-chunks, then an in-order sum over the tensors, so a rank can
//! reduce its pieces to the totals of whole subtrees of those trees (its
//! [`Partial`]), and any rank that has every rank's partials can finish the
//! trees and the sum over tensors exactly as one process would. The result
//! is bitwise the single-process result for any number of ranks and any
//! valid layout.
//!
//! The rules a layout must follow:
//! * every rank describes the same model: the same [`Layout`] (tensor count,
//!   every tensor's length, element type);
//! * a piece of tensor `t` starts at a multiple of [`Layout::unit`]
//!   elements (one super-chunk: 16,384 `f32`, `bf16` or `f16`, 8,192
//!   `f64`) and ends at one, or at the tensor's end
//!   ([`Layout::split`] gives such bounds, [`Layout::check`] tests them);
//! * the pieces of all ranks together cover every element of every tensor
//!   exactly once.
//!
//! The flow, on every rank: build a [`Partial`] from the local pieces
//! ([`Exec::partial_sums`], [`Regularizer::penalty_partial`](crate::Regularizer::penalty_partial), …),
//! [`encode`](Partial::encode) it into `u64` words, exchange the words so
//! every rank has every rank's (an all-gather), [`decode`](Partial::decode)
//! them and [`merge`](Partial::merge) them in rank order. A local error
//! (bad λ, a misaligned piece) is recorded in the partial instead of being
//! returned, so the rank still takes part in the exchange and every rank's
//! merge returns the same error: with MPI, no rank is left waiting in a
//! collective. The `regnorm-mpi` crate of this repository does all of this
//! over MPI.
//!
//! ```
//! use regnorm::shard::{Layout, Partial, Piece};
//! use regnorm::{Exec, L2, Regularizer};
//!
//! // One model, two tensors; tensor 1 is split over two ranks.
//! let a = vec![0.5f32; 1000];
//! let b: Vec<f32> = (0..40_000).map(|i| (i as f32).sin()).collect();
//! let layout = Layout::<f32>::new([a.len(), b.len()]);
//! let bounds = layout.split(1, 2)?; // [0..16384, 16384..40000]
//!
//! let l2 = L2::new(0.01)?;
//! let rank0 = [Piece::new(0, 0, &a[..]), Piece::new(1, 0, &b[bounds[0].clone()])];
//! let rank1 = [Piece::new(1, bounds[1].start, &b[bounds[1].clone()])];
//! let words = [l2.penalty_partial(&layout, &rank0).encode(),
//!              l2.penalty_partial(&layout, &rank1).encode()];
//!
//! // ... an all-gather of `words` later, on every rank:
//! let parts = words.iter().map(|w| Partial::decode(w)).collect::<Result<Vec<_>, _>>()?;
//! let merged = Partial::merge(&layout, &parts)?;
//! let sharded = l2.penalty_of_sums(merged.total);
//! assert_eq!(sharded.to_bits(), l2.penalty_model(&[&a[..], &b[..]]).to_bits());
//! # Ok::<(), regnorm::Error>(())
//! ```

use core::marker::PhantomData;
use core::ops::Range;

use crate::element::Element;
use crate::error::Error;
use crate::exec::Exec;
use crate::kernels::ops::{Read, Rows};
use crate::kernels::{Sums, Tier};
use crate::order::{left_chunks, super_len};
use crate::parallel::Par;
use crate::reduce::{self, Which, canonical_nan_sums};
use crate::tensors::check_lengths;

/// The global shape of a sharded model of element type `T`: every tensor's
/// length, the same on every rank.
///
/// ```
/// use regnorm::shard::Layout;
/// let layout = Layout::<f32>::new([768 * 3072, 768]);
/// assert_eq!(layout.tensors(), 2);
/// assert_eq!(layout.tensor_len(1), Some(768));
/// assert_eq!(layout.unit(), 16_384);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout<T: Element> {
    lens: Vec<usize>,
    fingerprint: u64,
    elem: PhantomData<fn() -> T>,
}

impl<T: Element> Layout<T> {
    /// A model whose tensor `i` has `lens[i]` elements.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f64>::new(vec![10, 0, 5]);
    /// assert_eq!(layout.tensors(), 3);
    /// ```
    pub fn new(lens: impl IntoIterator<Item = usize>) -> Layout<T> {
        let lens = crate::tensors::collect_items(lens);
        // FNV-1a over the element type, the unit and every length.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let words = [T::TAG, super_len::<T>() as u64, lens.len() as u64];
        for w in words.into_iter().chain(lens.iter().map(|&l| l as u64)) {
            for byte in w.to_le_bytes() {
                h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        Layout {
            lens,
            fingerprint: h,
            elem: PhantomData,
        }
    }

    /// The layout of a whole, unsharded model.
    ///
    /// ```
    /// let model = vec![vec![1.0f32; 3], vec![2.0; 5]];
    /// let layout = regnorm::shard::Layout::of(&model);
    /// assert_eq!(layout, regnorm::shard::Layout::<f32>::new([3, 5]));
    /// ```
    pub fn of<I>(tensors: I) -> Layout<T>
    where
        I: IntoIterator,
        I::Item: AsRef<[T]>,
    {
        Layout::new(tensors.into_iter().map(|t| t.as_ref().len()))
    }

    /// The number of tensors.
    ///
    /// ```
    /// assert_eq!(regnorm::shard::Layout::<f32>::new([1, 2]).tensors(), 2);
    /// ```
    pub fn tensors(&self) -> usize {
        self.lens.len()
    }

    /// The length of tensor `tensor`, if there is one.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f32>::new([7]);
    /// assert_eq!((layout.tensor_len(0), layout.tensor_len(1)), (Some(7), None));
    /// ```
    pub fn tensor_len(&self, tensor: usize) -> Option<usize> {
        self.lens.get(tensor).copied()
    }

    /// The granule of a split: one super-chunk of the canonical order
    /// (64 KiB of elements: 16,384 `f32`, `bf16` or `f16`; 8,192 `f64`).
    ///
    /// ```
    /// assert_eq!(regnorm::shard::Layout::<f64>::new([]).unit(), 8_192);
    /// ```
    pub fn unit(&self) -> usize {
        super_len::<T>()
    }

    /// A hash of the element type and every length, which partials carry
    /// so that a merge can tell that all ranks described the same model.
    ///
    /// ```
    /// use regnorm::shard::Layout;
    /// assert_ne!(Layout::<f32>::new([4, 5]).fingerprint(), Layout::<f32>::new([5, 4]).fingerprint());
    /// assert_ne!(Layout::<f32>::new([4]).fingerprint(), Layout::<f64>::new([4]).fingerprint());
    /// ```
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Splits tensor `tensor` into `parts` contiguous ranges, as equal as
    /// whole units allow (earlier ranges are never shorter by more than one
    /// unit; a range is empty when there are more parts than units).
    ///
    /// # Errors
    /// [`Error::UnknownTensor`] if there is no such tensor,
    /// [`Error::InvalidParts`] if `parts` is 0 or more ranges than memory
    /// can hold.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f32>::new([40_000]);
    /// assert_eq!(layout.split(0, 2)?, vec![0..16_384, 16_384..40_000]);
    /// assert_eq!(layout.split(0, 4)?, vec![0..0, 0..16_384, 16_384..32_768, 32_768..40_000]);
    /// assert!(layout.split(0, 0).is_err());
    /// assert!(layout.split(0, usize::MAX).is_err());
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn split(&self, tensor: usize, parts: usize) -> Result<Vec<Range<usize>>, Error> {
        let len = self.len_or_err(tensor)?;
        if parts == 0 {
            return Err(Error::InvalidParts { parts });
        }
        let (unit, chunks) = (self.unit(), len.div_ceil(self.unit()));
        // In u128: `i · chunks` overflows usize for absurd part counts.
        let bound = |i: usize| {
            let chunk = (i as u128 * chunks as u128 / parts as u128) as usize;
            chunk.saturating_mul(unit).min(len)
        };
        let mut ranges = Vec::new();
        ranges
            .try_reserve_exact(parts)
            .map_err(|_| Error::InvalidParts { parts })?;
        ranges.extend((0..parts).map(|i| bound(i)..bound(i + 1)));
        Ok(ranges)
    }

    /// `Ok` if elements `range` of tensor `tensor` may form one piece: the
    /// range lies in the tensor, starts at a multiple of [`unit`](Layout::unit)
    /// (or at the tensor's end) and ends at one (or at the tensor's end).
    ///
    /// # Errors
    /// [`Error::UnknownTensor`], [`Error::ShardOutOfRange`] or
    /// [`Error::ShardMisaligned`], whose message states the rule.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f32>::new([40_000]);
    /// assert!(layout.check(0, 16_384..40_000).is_ok());
    /// let err = layout.check(0, 1_000..40_000).unwrap_err();
    /// assert!(err.to_string().contains("multiple of 16384"));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn check(&self, tensor: usize, range: Range<usize>) -> Result<(), Error> {
        let tensor_len = self.len_or_err(tensor)?;
        let Range { start, end } = range;
        if start > end || end > tensor_len {
            return Err(Error::ShardOutOfRange {
                tensor,
                start,
                end,
                tensor_len,
            });
        }
        let unit = self.unit();
        let on_boundary = |i: usize| i.is_multiple_of(unit) || i == tensor_len;
        if on_boundary(start) && on_boundary(end) {
            Ok(())
        } else {
            Err(Error::ShardMisaligned {
                tensor,
                start,
                end,
                unit,
            })
        }
    }

    fn len_or_err(&self, tensor: usize) -> Result<usize, Error> {
        self.tensor_len(tensor).ok_or(Error::UnknownTensor {
            tensor,
            tensors: self.tensors(),
        })
    }
}

/// A rank's piece of a sharded model: elements `offset..offset +
/// data.len()` of tensor `tensor`. `S` is `&[T]` to read, `&mut [T]` to
/// write.
///
/// ```
/// let w = vec![0.0f32; 100];
/// let piece = regnorm::shard::Piece::new(3, 0, &w[..]);
/// assert_eq!((piece.tensor, piece.offset, piece.data.len()), (3, 0, 100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Piece<S> {
    /// The tensor's index in the [`Layout`].
    pub tensor: usize,
    /// The index, in the tensor, of the piece's first element.
    pub offset: usize,
    /// The elements.
    pub data: S,
}

impl<S> Piece<S> {
    /// Elements `offset..` of tensor `tensor`.
    ///
    /// ```
    /// let piece = regnorm::shard::Piece::new(0, 16_384, vec![1.0f32; 8]);
    /// assert_eq!(piece.offset, 16_384);
    /// ```
    pub fn new(tensor: usize, offset: usize, data: S) -> Piece<S> {
        Piece {
            tensor,
            offset,
            data,
        }
    }
}

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
/// with its [`Layout`]'s fingerprint. See the [module docs](self).
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
    fingerprint: u64,
    error: Option<Error>,
    nodes: Vec<Node>,
}

/// The merged sums: per tensor, and over the model (in order, as
/// [`Exec::model_sums`] adds them).
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// Each tensor's sums, as [`Exec::sums`] of the whole tensor gives them.
    pub tensors: Vec<Sums>,
    /// The model's sums.
    pub total: Sums,
}

/// The first word of an encoded partial: "RNPART" and the format version.
const MAGIC: u64 = 0x524e_5041_5254_0001;
/// Words before the nodes: magic, fingerprint, error (code and four
/// payload words), node count.
const HEADER_WORDS: usize = 8;
/// Words per node: tensor, first, chunks, Σ|w| bits, Σw² bits.
const NODE_WORDS: usize = 5;

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

    /// The partial as `u64` words (`f64` values as their bits), for any
    /// transport: `8 + 5 × nodes` words.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f32>::new([4]);
    /// let part = regnorm::Exec::new().partial_sums(&layout, &[regnorm::shard::Piece::new(0, 0, &[1.0f32; 4][..])]);
    /// assert_eq!(part.encode().len(), 8 + 5);
    /// ```
    pub fn encode(&self) -> Vec<u64> {
        let mut words = Vec::with_capacity(HEADER_WORDS + NODE_WORDS * self.nodes.len());
        words.extend([MAGIC, self.fingerprint]);
        words.extend(self.error.map_or([0; 5], |e| e.to_words()));
        words.push(self.nodes.len() as u64);
        for n in &self.nodes {
            words.extend([
                n.tensor as u64,
                n.first as u64,
                n.chunks as u64,
                n.sums.abs.to_bits(),
                n.sums.sq.to_bits(),
            ]);
        }
        words
    }

    /// The partial [`encode`](Partial::encode) made these words from.
    ///
    /// # Errors
    /// [`Error::MalformedPartial`] if the words are not an encoded partial
    /// of this format.
    ///
    /// ```
    /// use regnorm::shard::Partial;
    /// assert_eq!(Partial::decode(&[1, 2, 3]), Err(regnorm::Error::MalformedPartial));
    /// ```
    pub fn decode(words: &[u64]) -> Result<Partial, Error> {
        let bad = Error::MalformedPartial;
        let (header, body) = words.split_at_checked(HEADER_WORDS).ok_or(bad)?;
        let count = usize::try_from(header[7]).map_err(|_| bad)?;
        if header[0] != MAGIC || Some(body.len()) != count.checked_mul(NODE_WORDS) {
            return Err(bad);
        }
        let error = match header[2] {
            0 => None,
            _ => Some(Error::from_words(header[2..7].try_into().map_err(|_| bad)?).ok_or(bad)?),
        };
        let index = |w: u64| usize::try_from(w).map_err(|_| bad);
        let nodes = body
            .chunks_exact(NODE_WORDS)
            .map(|n| {
                let node = Node {
                    tensor: index(n[0])?,
                    first: index(n[1])?,
                    chunks: index(n[2])?,
                    sums: Sums {
                        abs: f64::from_bits(n[3]),
                        sq: f64::from_bits(n[4]),
                    },
                };
                if node.chunks == 0 {
                    return Err(bad);
                }
                Ok(node)
            })
            .collect::<Result<Vec<Node>, Error>>()?;
        Ok(Partial {
            fingerprint: header[1],
            error,
            nodes,
        })
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

impl Exec {
    pub(crate) fn partial<T: Element, S: AsRef<[T]>>(
        &self,
        layout: &Layout<T>,
        pieces: &[Piece<S>],
        which: Which,
    ) -> Partial {
        let reads = pieces
            .iter()
            .map(|p| (p.tensor, p.offset, Read(p.data.as_ref())))
            .collect();
        partial_of(layout, reads, which, self.tier(), self.par())
    }

    /// Σ|w| and Σw² of a rank's pieces as a [`Partial`] (one pass over
    /// memory); a bad piece is recorded in it (see the [`shard`](crate::shard)
    /// docs).
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let w = vec![-1.0f32; 50_000];
    /// let layout = Layout::<f32>::new([w.len()]);
    /// let parts: Vec<Partial> = layout.split(0, 3)?.into_iter()
    ///     .map(|r| regnorm::Exec::new().partial_sums(&layout, &[Piece::new(0, r.start, &w[r])]))
    ///     .collect();
    /// assert_eq!(Partial::merge(&layout, &parts)?.total, regnorm::sums(&w));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn partial_sums<T: Element, S: AsRef<[T]>>(
        &self,
        layout: &Layout<T>,
        pieces: &[Piece<S>],
    ) -> Partial {
        self.partial(layout, pieces, Which::Both)
    }

    /// Σ|w| alone of a rank's pieces as a [`Partial`] (`sq` is `0`).
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let layout = Layout::<f64>::new([2]);
    /// let part = regnorm::Exec::new().partial_sum_abs(&layout, &[Piece::new(0, 0, &[1.0, -2.0][..])]);
    /// assert_eq!(Partial::merge(&layout, &[part])?.total.abs, 3.0);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn partial_sum_abs<T: Element, S: AsRef<[T]>>(
        &self,
        layout: &Layout<T>,
        pieces: &[Piece<S>],
    ) -> Partial {
        self.partial(layout, pieces, Which::Abs)
    }

    /// Σw² alone of a rank's pieces as a [`Partial`] (`abs` is `0`): what
    /// a global gradient norm and per-tensor norms need.
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let layout = Layout::<f64>::new([2]);
    /// let part = regnorm::Exec::new().partial_sum_sq(&layout, &[Piece::new(0, 0, &[3.0, -4.0][..])]);
    /// assert_eq!(Partial::merge(&layout, &[part])?.total.sq.sqrt(), 5.0);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn partial_sum_sq<T: Element, S: AsRef<[T]>>(
        &self,
        layout: &Layout<T>,
        pieces: &[Piece<S>],
    ) -> Partial {
        self.partial(layout, pieces, Which::Sq)
    }
}
