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
//! ([`Exec::partial_sums`](crate::Exec::partial_sums), [`Regularizer::penalty_partial`](crate::Regularizer::penalty_partial), …),
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

mod layout;
mod partial;
mod wire;

pub use layout::{Layout, Piece};
pub use partial::{Merged, Node, Partial};
pub(crate) use partial::{check_piece_pairs, partial_of};
