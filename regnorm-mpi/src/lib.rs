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

use mpi::Count;
use mpi::datatype::PartitionMut;
use mpi::traits::{Communicator, CommunicatorCollectives};
use regnorm::shard::Partial;
pub use regnorm::shard::{Layout, Piece};
use regnorm::{ClipGradNorm, Element, Error, Exec, Regularizer};

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
/// Keeps the size of the first round of its exchange (see
/// [`exchange`](Sharded::exchange)) from call to call, so create one per
/// communicator on every rank and use it for all calls.
///
/// The examples run as a single rank (a process started without `mpirun`
/// is one); under `mpirun -n N` the same code gives the same results.
pub struct Sharded<'c, C: Communicator> {
    comm: &'c C,
    /// Words per rank of the first all-gather; every rank grows it alike.
    capacity: Cell<usize>,
}

/// The first round's size until a call needs more: 8 header words and
/// 100 subtrees.
const FIRST_CAPACITY: usize = 512;

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
            capacity: Cell::new(FIRST_CAPACITY),
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
        let part = match &reg {
            Ok(r) => r.penalty_partial(layout, pieces),
            Err(e) => Partial::failed(layout, *e),
        };
        let merged = Partial::merge(layout, &self.exchange(&part)?)?;
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
        let mut grads: Vec<G::Item> = grads.into_iter().collect();
        let grads: Vec<&mut [T]> = grads.iter_mut().map(AsMut::as_mut).collect();
        let plan = match &reg {
            Ok(_) => Partial::plan_paired(layout, params, &grads),
            Err(e) => Partial::failed(layout, *e),
        };
        Partial::merge(layout, &self.exchange(&plan)?)?;
        let reg = reg?;
        let part = reg.penalty_and_gradient_partial(layout, params, grads);
        let merged = Partial::merge(layout, &self.exchange(&part)?)?;
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
        let part = match &clip {
            Ok(c) => c.exec().partial_sum_sq(layout, grads),
            Err(e) => Partial::failed(layout, *e),
        };
        let merged = Partial::merge(layout, &self.exchange(&part)?)?;
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
        let part = exec.partial_sum_sq(layout, pieces);
        let merged = Partial::merge(layout, &self.exchange(&part)?)?;
        Ok(merged.tensors.iter().map(|s| s.sq.sqrt()).collect())
    }

    /// All-gathers every rank's partial: the transport of every call, for
    /// your own partials (any [`regnorm::shard`] builder). Collective.
    ///
    /// One fixed-size all-gather carries every rank's encoded partial when
    /// all fit the current capacity (in the steady state of a training
    /// loop); otherwise a second, variable-count all-gather carries the
    /// rest and the capacity grows (on every rank alike: each sees every
    /// rank's length).
    ///
    /// # Errors
    /// [`Error::MalformedPartial`] (on every rank) if a rank's words do not
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
        let words = part.encode();
        let size = self.size();
        let cap = self.capacity.get();
        let first = words.len().min(cap - 1);
        let mut send = vec![0u64; cap];
        send[0] = words.len() as u64;
        send[1..=first].copy_from_slice(&words[..first]);
        let mut recv = vec![0u64; cap * size];
        self.comm.all_gather_into(&send[..], &mut recv[..]);

        let lens: Vec<usize> = recv.chunks_exact(cap).map(|r| r[0] as usize).collect();
        let mut messages: Vec<Vec<u64>> = recv
            .chunks_exact(cap)
            .zip(&lens)
            .map(|(r, &len)| r[1..=len.min(cap - 1)].to_vec())
            .collect();
        let longest = lens.iter().copied().max().unwrap_or(0);
        if longest > cap - 1 {
            // Every rank sees the same lengths, so all return here alike.
            if longest > Count::MAX as usize {
                return Err(Error::MalformedPartial);
            }
            let rest: Vec<Count> = lens
                .iter()
                .map(|&len| len.saturating_sub(cap - 1) as Count)
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
            self.capacity.set((longest + 1).next_power_of_two());
        }
        messages.iter().map(|m| Partial::decode(m)).collect()
    }
}
