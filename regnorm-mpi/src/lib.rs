//! regnorm over MPI: the penalty, its gradient, global-norm clipping and
//! per-tensor norms of a model sharded over many processes, with exactly
//! the bits one process computes over the whole model, on any number of
//! ranks and for any valid layout.
//!
//! Each rank describes its share of the model by [`Piece`]s (global tensor
//! index, offset, slice: whole tensors and ranges of split tensors mixed)
//! against one [`Layout`] (every tensor's length) that all ranks share.
//! A call reduces the local pieces to regnorm's mergeable partial sums
//! ([`regnorm::shard`]), all-gathers them (a few hundred bytes per rank; no
//! rank reads another rank's data), and every rank merges them in rank
//! order along the canonical summation tree. Layout rules (see
//! [`regnorm::shard`]): a split tensor is cut at multiples of
//! [`Layout::unit`] elements (64 KiB) or at its end, and the pieces of all
//! ranks cover every element exactly once.
//!
//! **Collective calls.** Every method is collective over the communicator:
//! every rank must make the same calls in the same order. Bad input never
//! hangs: a rank whose own input is bad (a λ the constructor refused,
//! misaligned pieces, gradients that do not pair up with their weights)
//! still takes part in the exchange, carrying its error, and every rank
//! returns the same [`Error`]; ranks that disagree about the layout all get
//! [`Error::LayoutMismatch`], and no gradient is changed. So pass
//! constructors' results as they are (`L1::new(lambda)`, not
//! `L1::new(lambda)?`): returning early on one rank would leave the others
//! waiting.
//!
//! **Ranks that make different calls** find out instead of merging
//! mismatched sums or waiting forever: every exchange carries what was
//! asked (the operation; the regularizer's type and strengths, or the
//! clipping threshold) and the call's number in this [`Sharded`]'s
//! sequence, and if any rank's differs from rank 0's every rank returns
//! [`Error::CallMismatch`] from that exchange (before any gradient is
//! written). A rank whose local work panics still enters the exchange, and
//! every rank returns [`Error::RankPanicked`].
//!
//! ```
//! use regnorm::{ClipGradNorm, L2};
//! use regnorm_mpi::{Layout, Piece, Sharded};
//!
//! let universe = mpi::initialize().unwrap();
//! let world = universe.world();
//! let sharded = Sharded::new(&world);
//! # let (rank, size) = (sharded.rank(), sharded.size());
//! // Tensor 0 split over all ranks; tensor 1 whole on rank 0.
//! let layout = Layout::<f32>::new([1 << 20, 768]);
//! let mine = layout.split(0, size).unwrap()[rank].clone();
//! let w0 = vec![0.5f32; mine.len()];
//! let w1 = vec![0.1f32; 768];
//! let mut pieces = vec![Piece::new(0, mine.start, &w0[..])];
//! if rank == 0 {
//!     pieces.push(Piece::new(1, 0, &w1[..]));
//! }
//! let l2 = sharded.penalty(L2::new(1e-4), &layout, &pieces)?; // same bits on every rank
//! # Ok::<(), regnorm::Error>(())
//! ```

use std::cell::Cell;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};

use mpi::Count;
use mpi::datatype::PartitionMut;
use mpi::traits::{Communicator, CommunicatorCollectives};
use regnorm::shard::Partial;
pub use regnorm::shard::{Layout, Piece};
use regnorm::{ClipGradNorm, Element, Error, Exec, Regularizer, Sums};

/// A value that a constructor may have refused: what the collective calls
/// take for a regularizer or a clipping, so that a rank whose constructor
/// failed still enters the collective with its error. Implemented for
/// `&R` and for `Result<R, regnorm::Error>`.
///
/// ```
/// use regnorm::L1;
/// use regnorm_mpi::Checked;
/// assert!(L1::new(-1.0).checked().is_err());
/// let l1 = L1::new(0.5)?;
/// assert_eq!((&l1).checked()?, l1);
/// # Ok::<(), regnorm::Error>(())
/// ```
pub trait Checked<R> {
    /// The value, or the error the constructor returned.
    ///
    /// # Errors
    /// The constructor's error.
    fn checked(self) -> Result<R, Error>;
}

impl<R: Clone> Checked<R> for &R {
    fn checked(self) -> Result<R, Error> {
        Ok(self.clone())
    }
}

impl<R> Checked<R> for Result<R, Error> {
    fn checked(self) -> Result<R, Error> {
        self
    }
}

/// Sharded calls over the ranks of an MPI communicator.
///
/// Numbers its calls, so create one per communicator on every rank, at the
/// same point of the program, and use it for all calls: ranks whose
/// sequences differ get [`Error::CallMismatch`].
///
/// The examples run as a single rank (a process started without `mpirun`
/// is one); under `mpirun -n N` the same code gives the same results.
pub struct Sharded<'c, C: Communicator> {
    comm: &'c C,
    /// The number of exchanges made so far.
    calls: Cell<u64>,
}

/// Words per rank of an exchange's first all-gather, the same on every
/// rank and for every call: the envelope and a partial of up to about 100
/// subtrees. A longer partial sends the rest in a second all-gather.
const FIRST_ROUND: usize = 512;
/// The envelope before a partial's words: its length, the operation, the
/// call's number and what was asked.
const ENVELOPE: usize = 4;

/// What a collective call asks for, sent with every rank's partial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Call {
    op: Op,
    /// A fingerprint of the regularizer (type and strengths) or the
    /// clipping threshold; 0 when the rank's constructor failed (its error
    /// is then what every rank reports).
    what: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Penalty = 1,
    GradientPlan = 2,
    Gradient = 3,
    Clip = 4,
    TensorNorms = 5,
    Exchange = 6,
}

impl Call {
    fn of_regularizer<R: Regularizer>(op: Op, reg: &Result<R, Error>) -> Call {
        let what = reg.as_ref().map_or(0, |r| {
            let mut h = DefaultHasher::new();
            std::any::type_name::<R>().hash(&mut h);
            // The value of unit sums: the strengths, as the penalty uses them.
            let unit = |abs, sq| r.penalty_of_sums(Sums { abs, sq }).to_bits();
            (unit(1.0, 0.0), unit(0.0, 1.0)).hash(&mut h);
            h.finish() | 1
        });
        Call { op, what }
    }

    fn plain(op: Op) -> Call {
        Call { op, what: 1 }
    }
}

/// The partial `local` computes, or a failed one naming this rank if it
/// panics: a rank always has something to send.
fn guarded<T: Element>(
    layout: &Layout<T>,
    rank: usize,
    local: impl FnOnce() -> Partial,
) -> Partial {
    catch_unwind(AssertUnwindSafe(local))
        .unwrap_or_else(|_| Partial::failed(layout, Error::RankPanicked { part: rank }))
}

impl<'c, C: Communicator> Sharded<'c, C> {
    /// Sharded calls over `comm`'s ranks.
    ///
    /// ```
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let sharded = regnorm_mpi::Sharded::new(&world);
    /// assert_eq!((sharded.rank(), sharded.size()), (0, 1));
    /// ```
    pub fn new(comm: &'c C) -> Sharded<'c, C> {
        Sharded {
            comm,
            calls: Cell::new(0),
        }
    }

    /// This process's rank.
    ///
    /// ```
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let sharded = regnorm_mpi::Sharded::new(&world);
    /// assert!(sharded.rank() < sharded.size());
    /// ```
    pub fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    /// The number of ranks.
    ///
    /// ```
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let sharded = regnorm_mpi::Sharded::new(&world);
    /// assert!(sharded.size() >= 1);
    /// ```
    pub fn size(&self) -> usize {
        self.comm.size() as usize
    }

    /// The penalty of the whole sharded model (as
    /// [`Regularizer::penalty_model`] of the unsharded model), on every
    /// rank. One all-gather.
    ///
    /// # Errors
    /// The same on every rank: a rank's constructor error, a piece that
    /// breaks the layout rules ([`Error::ShardMisaligned`], …), ranks that
    /// disagree about the layout ([`Error::LayoutMismatch`]), pieces that
    /// overlap or leave gaps ([`Error::ShardOverlap`], [`Error::ShardGap`]).
    ///
    /// ```
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let sharded = regnorm_mpi::Sharded::new(&world);
    /// use regnorm::{L1, Regularizer};
    /// use regnorm_mpi::{Layout, Piece};
    /// let w = vec![0.5f32; 40_000];
    /// let layout = Layout::<f32>::new([w.len()]);
    /// // One rank holding the tensor as two pieces.
    /// let pieces = [Piece::new(0, 16_384, &w[16_384..]), Piece::new(0, 0, &w[..16_384])];
    /// let p = sharded.penalty(L1::new(0.1), &layout, &pieces)?;
    /// assert_eq!(p, L1::new(0.1)?.penalty(&w));
    /// assert!(sharded.penalty(L1::new(-1.0), &layout, &pieces).is_err());
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn penalty<R, T>(
        &self,
        reg: impl Checked<R>,
        layout: &Layout<T>,
        pieces: &[Piece<&[T]>],
    ) -> Result<f64, Error>
    where
        R: Regularizer,
        T: Element,
    {
        let reg = reg.checked();
        let call = Call::of_regularizer(Op::Penalty, &reg);
        let part = guarded(layout, self.rank(), || match &reg {
            Ok(r) => r.penalty_partial(layout, pieces),
            Err(e) => Partial::failed(layout, *e),
        });
        let merged = Partial::merge(layout, &self.exchange_call(call, &part)?)?;
        // Every rank's partial was sound, this one's included: `reg` is Ok.
        reg.map(|r| r.penalty_of_sums(merged.total))
    }

    /// Adds the penalty's gradient to this rank's gradients (`grads[i]`
    /// pairs with `params[i]`, element-wise as
    /// [`Regularizer::add_gradient`]) and returns the whole model's
    /// penalty, in one pass over memory; on every rank the penalty is
    /// bitwise [`Regularizer::penalty_and_gradient_model`]'s over the
    /// unsharded model, and so are the gradients.
    ///
    /// Two all-gathers: the layout is checked across ranks before any
    /// gradient is written.
    ///
    /// # Errors
    /// As [`penalty`](Sharded::penalty), and [`Error::TensorCountMismatch`]
    /// or [`Error::LengthMismatch`] from a rank whose gradients do not pair
    /// up with its pieces; on any error no rank's gradients are changed.
    ///
    /// ```
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let sharded = regnorm_mpi::Sharded::new(&world);
    /// use regnorm::L2;
    /// use regnorm_mpi::{Layout, Piece};
    /// let w = vec![1.0f32, -2.0];
    /// let mut g = vec![vec![0.0f32; 2]];
    /// let layout = Layout::<f32>::new([2]);
    /// let p = sharded.penalty_and_gradient(L2::new(0.5), &layout, &[Piece::new(0, 0, &w[..])], &mut g)?;
    /// assert_eq!((p, &g[0][..]), (2.5, &[1.0, -2.0][..]));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn penalty_and_gradient<R, T, G>(
        &self,
        reg: impl Checked<R>,
        layout: &Layout<T>,
        params: &[Piece<&[T]>],
        grads: G,
    ) -> Result<f64, Error>
    where
        R: Regularizer,
        T: Element,
        G: IntoIterator,
        G::Item: AsMut<[T]>,
    {
        let reg = reg.checked();
        let rank = self.rank();
        let (plan_call, call) = (
            Call::of_regularizer(Op::GradientPlan, &reg),
            Call::of_regularizer(Op::Gradient, &reg),
        );
        // The caller's containers may panic: caught, so that this rank
        // still enters the exchanges.
        let mut items: Vec<G::Item> = Vec::new();
        let collected = catch_unwind(AssertUnwindSafe(|| {
            for g in grads {
                items.push(g);
            }
        }));
        let items = &mut items;
        let slices = match collected {
            Ok(()) => catch_unwind(AssertUnwindSafe(move || {
                let items = items; // moved in: the closure is FnOnce
                items
                    .iter_mut()
                    .map(AsMut::as_mut)
                    .collect::<Vec<&mut [T]>>()
            })),
            Err(payload) => Err(payload),
        };
        let plan = match (&reg, &slices) {
            (Err(e), _) => Partial::failed(layout, *e),
            (Ok(_), Err(_)) => Partial::failed(layout, Error::RankPanicked { part: rank }),
            (Ok(_), Ok(g)) => guarded(layout, rank, || Partial::plan_paired(layout, params, g)),
        };
        Partial::merge(layout, &self.exchange_call(plan_call, &plan)?)?;
        // Every rank's plan was sound, this one's included.
        let (reg, slices) = (
            reg?,
            slices.map_err(|_| Error::RankPanicked { part: rank })?,
        );
        let part = guarded(layout, rank, || {
            reg.penalty_and_gradient_partial(layout, params, slices)
        });
        let merged = Partial::merge(layout, &self.exchange_call(call, &part)?)?;
        Ok(reg.penalty_of_sums(merged.total))
    }

    /// Clips this rank's gradients by the global norm of the whole sharded
    /// model ([`ClipGradNorm::clip_model`] semantics: the norm before
    /// clipping is returned on every rank, bitwise the unsharded model's,
    /// and every local gradient is scaled by the same factor). One
    /// all-gather.
    ///
    /// # Errors
    /// As [`penalty`](Sharded::penalty), and [`Error::NonFiniteNorm`] on
    /// every rank if the clipping asks for it; on any error no gradient is
    /// changed.
    ///
    /// ```
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let sharded = regnorm_mpi::Sharded::new(&world);
    /// use regnorm::ClipGradNorm;
    /// use regnorm_mpi::{Layout, Piece};
    /// let mut g = vec![3.0f32, 4.0];
    /// let layout = Layout::<f32>::new([2]);
    /// let norm = sharded.clip_grad_norm(ClipGradNorm::new(1.0), &layout, &mut [Piece::new(0, 0, &mut g[..])])?;
    /// assert_eq!(norm, 5.0);
    /// assert!((g[0] - 0.6).abs() < 1e-6);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn clip_grad_norm<T: Element>(
        &self,
        clip: impl Checked<ClipGradNorm>,
        layout: &Layout<T>,
        grads: &mut [Piece<&mut [T]>],
    ) -> Result<f64, Error> {
        let clip = clip.checked();
        let call = Call {
            op: Op::Clip,
            what: clip.as_ref().map_or(0, |c| c.max_norm().to_bits() | 1),
        };
        let part = guarded(layout, self.rank(), || match &clip {
            Ok(c) => c.exec().partial_sum_sq(layout, grads),
            Err(e) => Partial::failed(layout, *e),
        });
        let merged = Partial::merge(layout, &self.exchange_call(call, &part)?)?;
        let total = merged.total.sq.sqrt();
        clip?.clip_with_norm(total, grads.iter_mut().map(|p| &mut *p.data))
    }

    /// The L2 norm of every tensor of the sharded model (as
    /// [`Exec::tensor_norms`] of the unsharded model), on every rank. One
    /// all-gather.
    ///
    /// # Errors
    /// As [`penalty`](Sharded::penalty).
    ///
    /// ```
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let sharded = regnorm_mpi::Sharded::new(&world);
    /// use regnorm_mpi::{Layout, Piece};
    /// let (a, b) = (vec![3.0f64, 4.0], vec![-2.0f64]);
    /// let layout = Layout::<f64>::new([2, 1]);
    /// let pieces = [Piece::new(0, 0, &a[..]), Piece::new(1, 0, &b[..])];
    /// assert_eq!(sharded.tensor_norms(regnorm::Exec::new(), &layout, &pieces)?, vec![5.0, 2.0]);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn tensor_norms<T: Element>(
        &self,
        exec: Exec,
        layout: &Layout<T>,
        pieces: &[Piece<&[T]>],
    ) -> Result<Vec<f64>, Error> {
        let part = guarded(layout, self.rank(), || exec.partial_sum_sq(layout, pieces));
        let call = Call::plain(Op::TensorNorms);
        let merged = Partial::merge(layout, &self.exchange_call(call, &part)?)?;
        Ok(merged.tensors.iter().map(|s| s.sq.sqrt()).collect())
    }

    /// All-gathers every rank's partial: the transport of every call, for
    /// your own partials (any [`regnorm::shard`] builder). Collective, and
    /// numbered like every call: ranks must make the same exchanges in the
    /// same order.
    ///
    /// One fixed-size all-gather carries every rank's encoded partial when
    /// all fit (in the steady state of a training loop); otherwise a
    /// second, variable-count all-gather carries the rest (every rank sees
    /// every rank's length, so all take the second round alike).
    ///
    /// # Errors
    /// On every rank alike: [`Error::CallMismatch`] if ranks made
    /// different calls, [`Error::MalformedPartial`] if a rank's words do not
    /// decode.
    ///
    /// ```
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let sharded = regnorm_mpi::Sharded::new(&world);
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// let w = vec![1.0f32; 10];
    /// let layout = Layout::<f32>::new([10]);
    /// let mine = regnorm::Exec::new().partial_sums(&layout, &[Piece::new(0, 0, &w[..])]);
    /// let all = sharded.exchange(&mine)?; // one partial per rank
    /// assert_eq!(Partial::merge(&layout, &all)?.total.abs, 10.0);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn exchange(&self, part: &Partial) -> Result<Vec<Partial>, Error> {
        self.exchange_call(Call::plain(Op::Exchange), part)
    }

    /// [`exchange`](Sharded::exchange) of a partial made for `call`: every
    /// rank checks that all ranks made the same call, as their next one.
    fn exchange_call(&self, call: Call, part: &Partial) -> Result<Vec<Partial>, Error> {
        let seq = self.calls.get();
        self.calls.set(seq.wrapping_add(1));
        let words = part.encode();
        let size = self.size();
        let cap = FIRST_ROUND;
        let first = words.len().min(cap - ENVELOPE);
        let mut send = vec![0u64; cap];
        send[..ENVELOPE].copy_from_slice(&[words.len() as u64, call.op as u64, seq, call.what]);
        send[ENVELOPE..ENVELOPE + first].copy_from_slice(&words[..first]);
        let mut recv = vec![0u64; cap * size];
        self.comm.all_gather_into(&send[..], &mut recv[..]);

        let envelopes: Vec<&[u64]> = recv.chunks_exact(cap).map(|r| &r[..ENVELOPE]).collect();
        // The same checks on every rank, of the same words: the same answer.
        let calls_differ = |e: &&[u64]| {
            let what_differs = e[3] != 0 && envelopes[0][3] != 0 && e[3] != envelopes[0][3];
            e[1] != envelopes[0][1] || e[2] != envelopes[0][2] || what_differs
        };
        if let Some(part) = envelopes.iter().position(calls_differ) {
            // A rank that asked for a second round (its first words said
            // so) would wait for it: no rank may, since all return here.
            return Err(Error::CallMismatch { part });
        }
        let lens: Vec<usize> = envelopes
            .iter()
            .map(|e| usize::try_from(e[0]).unwrap_or(usize::MAX))
            .collect();
        let mut messages: Vec<Vec<u64>> = recv
            .chunks_exact(cap)
            .zip(&lens)
            .map(|(r, &len)| r[ENVELOPE..ENVELOPE + len.min(cap - ENVELOPE)].to_vec())
            .collect();
        let longest = lens.iter().copied().max().unwrap_or(0);
        if longest > cap - ENVELOPE {
            // Every rank sees the same lengths, so all return here alike.
            if longest > Count::MAX as usize {
                return Err(Error::MalformedPartial);
            }
            let rest: Vec<Count> = lens
                .iter()
                .map(|&len| len.saturating_sub(cap - ENVELOPE) as Count)
                .collect();
            let displs: Vec<Count> = rest
                .iter()
                .scan(0, |at, &n| {
                    let d = *at;
                    *at += n;
                    Some(d)
                })
                .collect();
            let total: usize = rest.iter().map(|&n| n as usize).sum();
            let mut buf = vec![0u64; total];
            {
                let mut partition = PartitionMut::new(&mut buf[..], rest.clone(), &displs[..]);
                self.comm
                    .all_gather_varcount_into(&words[first..], &mut partition);
            }
            for ((m, &d), &n) in messages.iter_mut().zip(&displs).zip(&rest) {
                m.extend_from_slice(&buf[d as usize..(d + n) as usize]);
            }
        }
        messages.iter().map(|m| Partial::decode(m)).collect()
    }
}
