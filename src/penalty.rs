//! The regularizers: L1, L2 and ElasticNet over one tensor or a whole model:
//! value, gradient, both in one pass, and the proximal step.

use crate::element::{Element, Lane};
use crate::error::{Error, check_lambda, check_step};
use crate::exec::Exec;
use crate::kernels::ops::{AddGradient, Coefficients, Prox, coefficient};
use crate::kernels::{Sums, Totals};
use crate::reduce::{self, Which};
use crate::shard::{Layout, Partial, Piece, check_piece_pairs, partial_of};
use crate::tensors::{with_gradient_passes, with_mut_slices};

/// What a proximal step reports, from the same pass that made it.
///
/// ```
/// use regnorm::{L1, Regularizer};
/// let mut w = [0.5f32, -0.05, 2.0, 0.01];
/// let step = L1::new(0.1)?.prox_step(&mut w, 1.0)?;
/// assert_eq!(w, [0.4, 0.0, 1.9, 0.0]);
/// assert_eq!(step.zeros, 2);
/// assert_eq!(step.penalty, L1::new(0.1)?.penalty(&w));
/// # Ok::<(), regnorm::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProxStats {
    /// The penalty of the weights after the step.
    pub penalty: f64,
    /// The number of weights that are exactly zero after the step.
    pub zeros: usize,
}

/// A penalty on weights, evaluated over one tensor or a whole model, with
/// its gradient and its proximal step.
///
/// Implemented by [`L1`], [`L2`] and [`ElasticNet`]; sealed. Each is
/// `λ₁·Σ|w| + λ₂·Σw²` for its own `λ₁` and `λ₂` (a term whose coefficient
/// is structurally absent, such as Σw² in L1, is never computed).
///
/// * Values are carried and returned in `f64` and are bitwise identical for
///   every tier and thread count. NaN in the weights gives NaN; ±Inf
///   (without NaN) gives +Inf for λ > 0; the penalty is `λ × sum` in IEEE
///   arithmetic, so λ = 0 gives 0 for finite weights and NaN for infinite
///   ones.
/// * Element-wise updates (gradients, proximal steps) are computed in the
///   element type with coefficients rounded to it once, in the order each
///   method documents, identically on every tier (NaN payloads aside).
/// * Model methods take `&[&[T]]`, `&[Vec<T>]` or any iterator of slices
///   (`&mut` ones where they write), check every shape before writing
///   anything, and process large tensors split and small ones batched
///   across the rayon pool.
///
/// ```
/// use regnorm::{ElasticNet, L1, L2, Regularizer};
///
/// fn total_penalty<R: Regularizer>(r: &R, model: &[Vec<f32>]) -> f64 {
///     r.penalty_model(model)
/// }
/// let model = vec![vec![1.0f32, -1.0], vec![2.0]];
/// assert_eq!(total_penalty(&L1::new(0.5)?, &model), 2.0);
/// assert_eq!(total_penalty(&L2::new(0.5)?, &model), 3.0);
/// assert_eq!(total_penalty(&ElasticNet::new(1.0, 0.5)?, &model), 0.5 * 4.0 + 0.25 * 6.0);
/// # Ok::<(), regnorm::Error>(())
/// ```
pub trait Regularizer: sealed::Sealed + Sized + Send + Sync {
    /// How this regularizer runs its calls.
    ///
    /// ```
    /// use regnorm::{Exec, L1, Regularizer};
    /// assert_eq!(L1::new(0.1)?.exec(), Exec::new());
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn exec(&self) -> Exec;

    /// The same regularizer, run as `exec` says (tier, threads).
    ///
    /// ```
    /// use regnorm::{Exec, L2, Regularizer};
    /// let l2 = L2::new(0.1)?.with_exec(Exec::sequential());
    /// assert!(!l2.exec().is_parallel());
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn with_exec(self, exec: Exec) -> Self;

    /// The penalty of one tensor.
    ///
    /// ```
    /// use regnorm::{L1, Regularizer};
    /// let w = [0.5f32, -1.5, 0.0, 2.0];
    /// assert_eq!(L1::new(0.1)?.penalty(&w), 0.1 * 4.0);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn penalty<T: Element>(&self, weights: &[T]) -> f64 {
        let exec = self.exec();
        self.value_of(reduce::sums(weights, self.which(), exec.tier(), exec.par()))
    }

    /// The penalty of a whole model in one call: the `f64` sum, in order, of
    /// the tensors' sums (bitwise what adding them one by one gives).
    ///
    /// ```
    /// use regnorm::{L2, Regularizer};
    /// let conv = vec![0.5f32; 4096];
    /// let bias = vec![1.0f32; 8];
    /// let l2 = L2::new(0.01)?;
    /// let p = l2.penalty_model(&[&conv[..], &bias[..]]);
    /// assert_eq!(p, 0.01 * (4096.0 * 0.25 + 8.0));
    /// assert_eq!(p, l2.penalty_model([&conv, &bias].into_iter()));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn penalty_model<T, I>(&self, tensors: I) -> f64
    where
        T: Element,
        I: IntoIterator,
        I::Item: AsRef<[T]>,
    {
        self.value_of(self.exec().model(tensors, self.which()))
    }

    /// Adds the penalty's gradient to `grads`, element by element, with
    /// `a = λ₁` and `b = 2·λ₂` rounded to the element type (L1: `a = λ`;
    /// L2: `b = 2λ`; ElasticNet: `a = λ·r`, `b = λ·(1 − r)`): first
    /// `g ← g + a·sign(w)`, then `g ← fma(b, w, g)`, the product and sum
    /// rounded once (a fused multiply-add), each for the terms present.
    /// `sign(0) = 0`, the subgradient of `|w|` at 0 that keeps zero weights
    /// at zero; `sign(NaN) = NaN`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the lengths differ; `grads` is then
    /// unchanged.
    ///
    /// ```
    /// use regnorm::{L1, L2, Regularizer};
    /// let w = [2.0f32, -0.5, 0.0];
    /// let mut g = [1.0f32; 3];
    /// L1::new(0.25)?.add_gradient(&w, &mut g)?;
    /// assert_eq!(g, [1.25, 0.75, 1.0]);
    /// L2::new(0.25)?.add_gradient(&w, &mut g)?;
    /// assert_eq!(g, [2.25, 0.5, 1.0]);
    /// assert!(L2::new(0.25)?.add_gradient(&w, &mut [0.0f32; 2]).is_err());
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn add_gradient<T: Element>(&self, params: &[T], grads: &mut [T]) -> Result<(), Error> {
        let pass = self.gradient_pass(params, grads)?;
        let exec = self.exec();
        reduce::run(pass, Which::Neither, exec.tier(), exec.par());
        Ok(())
    }

    /// [`add_gradient`](Regularizer::add_gradient) over a whole model:
    /// `params` and `grads` pair up tensor by tensor.
    ///
    /// # Errors
    /// [`Error::TensorCountMismatch`] or [`Error::LengthMismatch`] (naming
    /// the first tensor that differs); no gradient is then changed.
    ///
    /// ```
    /// use regnorm::{L2, Regularizer};
    /// let params = vec![vec![1.0f32, -1.0], vec![0.5]];
    /// let mut grads = vec![vec![0.0f32; 2], vec![0.0]];
    /// L2::new(0.5)?.add_gradient_model(&params, &mut grads)?;
    /// assert_eq!(grads, vec![vec![1.0, -1.0], vec![0.5]]);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn add_gradient_model<T, P, G>(&self, params: P, grads: G) -> Result<(), Error>
    where
        T: Element,
        P: IntoIterator,
        P::Item: AsRef<[T]>,
        G: IntoIterator,
        G::Item: AsMut<[T]>,
    {
        gradient_model(self, params, grads, Which::Neither).map(|_| ())
    }

    /// The penalty of `params` and [`add_gradient`](Regularizer::add_gradient)
    /// in one pass over memory; the result and the gradients are bitwise what
    /// the two separate calls give.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the lengths differ; `grads` is then
    /// unchanged.
    ///
    /// ```
    /// use regnorm::{ElasticNet, Regularizer};
    /// let en = ElasticNet::new(0.1, 0.5)?;
    /// let w = vec![0.5f32, -2.0, 0.0];
    /// let (mut g1, mut g2) = (vec![0.1f32; 3], vec![0.1f32; 3]);
    /// let p = en.penalty_and_gradient(&w, &mut g1)?;
    /// en.add_gradient(&w, &mut g2)?;
    /// assert_eq!((p, g1), (en.penalty(&w), g2));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn penalty_and_gradient<T: Element>(
        &self,
        params: &[T],
        grads: &mut [T],
    ) -> Result<f64, Error> {
        let pass = self.gradient_pass(params, grads)?;
        let exec = self.exec();
        let totals = reduce::run(pass, self.which(), exec.tier(), exec.par());
        Ok(self.value_of(totals.sums))
    }

    /// [`penalty_and_gradient`](Regularizer::penalty_and_gradient) over a
    /// whole model.
    ///
    /// # Errors
    /// As [`add_gradient_model`](Regularizer::add_gradient_model).
    ///
    /// ```
    /// use regnorm::{L1, Regularizer};
    /// let params = vec![vec![1.0f32, -1.0], vec![0.5]];
    /// let mut grads = vec![vec![0.0f32; 2], vec![0.0]];
    /// let p = L1::new(0.5)?.penalty_and_gradient_model(&params, &mut grads)?;
    /// assert_eq!(p, 1.25);
    /// assert_eq!(grads, vec![vec![0.5, -0.5], vec![0.5]]);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn penalty_and_gradient_model<T, P, G>(&self, params: P, grads: G) -> Result<f64, Error>
    where
        T: Element,
        P: IntoIterator,
        P::Item: AsRef<[T]>,
        G: IntoIterator,
        G::Item: AsMut<[T]>,
    {
        let totals = gradient_model(self, params, grads, self.which())?;
        Ok(self.value_of(totals.sums))
    }

    /// The penalty given the sums it needs, exactly as
    /// [`penalty_model`](Regularizer::penalty_model) computes it from its
    /// own: what finishes a sharded penalty from the merged
    /// [`Partial`](crate::shard::Partial)s (see [`crate::shard`]).
    ///
    /// ```
    /// use regnorm::{ElasticNet, Regularizer};
    /// let en = ElasticNet::new(0.1, 0.5)?;
    /// let w = [1.0f32, -3.0];
    /// assert_eq!(en.penalty_of_sums(regnorm::sums(&w)), en.penalty(&w));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn penalty_of_sums(&self, sums: Sums) -> f64 {
        self.value_of(sums)
    }

    /// The sums this penalty needs over a rank's pieces of a sharded model,
    /// as a [`Partial`](crate::shard::Partial); a bad piece is recorded in
    /// it. Merge the partials of all ranks and finish with
    /// [`penalty_of_sums`](Regularizer::penalty_of_sums).
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// use regnorm::{L1, Regularizer};
    /// let w = vec![0.5f32; 20_000];
    /// let layout = Layout::<f32>::new([w.len()]);
    /// let l1 = L1::new(0.1)?;
    /// let parts: Vec<Partial> = layout.split(0, 2)?.into_iter()
    ///     .map(|r| l1.penalty_partial(&layout, &[Piece::new(0, r.start, &w[r])]))
    ///     .collect();
    /// let p = l1.penalty_of_sums(Partial::merge(&layout, &parts)?.total);
    /// assert_eq!(p, l1.penalty(&w));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn penalty_partial<T: Element, S: AsRef<[T]>>(
        &self,
        layout: &Layout<T>,
        pieces: &[Piece<S>],
    ) -> Partial {
        self.exec().partial(layout, pieces, self.which())
    }

    /// [`penalty_and_gradient`](Regularizer::penalty_and_gradient) over a
    /// rank's pieces of a sharded model: adds the gradient to `grads[i]`
    /// (paired with `params[i]`) and returns the penalty's sums as a
    /// [`Partial`](crate::shard::Partial). If a piece is bad or a gradient
    /// does not pair up ([`Error::TensorCountMismatch`],
    /// [`Error::LengthMismatch`] naming the piece), nothing is written and
    /// the error is recorded in the partial.
    ///
    /// ```
    /// use regnorm::shard::{Layout, Partial, Piece};
    /// use regnorm::{L2, Regularizer};
    /// let w = vec![1.0f32, -2.0];
    /// let mut g = vec![0.0f32; 2];
    /// let layout = Layout::<f32>::new([2]);
    /// let l2 = L2::new(0.5)?;
    /// let part = l2.penalty_and_gradient_partial(&layout, &[Piece::new(0, 0, &w[..])], [&mut g]);
    /// assert_eq!(l2.penalty_of_sums(Partial::merge(&layout, &[part])?.total), 2.5);
    /// assert_eq!(g, [1.0, -2.0]);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn penalty_and_gradient_partial<T, G>(
        &self,
        layout: &Layout<T>,
        params: &[Piece<&[T]>],
        grads: G,
    ) -> Partial
    where
        T: Element,
        G: IntoIterator,
        G::Item: AsMut<[T]>,
    {
        with_mut_slices(grads, |grads| {
            if let Err(e) = check_piece_pairs(params, &grads) {
                return Partial::failed(layout, e);
            }
            let mut passes = Vec::with_capacity(params.len());
            for (p, g) in params.iter().zip(grads) {
                match self.gradient_pass(p.data, g) {
                    Ok(pass) => passes.push((p.tensor, p.offset, pass)),
                    Err(e) => return Partial::failed(layout, e),
                }
            }
            let exec = self.exec();
            partial_of(layout, passes, self.which(), exec.tier(), exec.par())
        })
    }

    /// The proximal step of step size `eta`: each weight becomes
    /// `soft(w, t)·c` with `t = η·λ₁` and `c = 1/(1 + 2·η·λ₂)` rounded to
    /// the element type, where `soft(w, t) = sign(w)·(|w| − t)` if
    /// `|w| > t` and `+0` otherwise. So L1 soft-thresholds (and makes exact
    /// zeros), L2 scales by `1/(1 + 2ηλ)`, and ElasticNet soft-thresholds by
    /// `ηλr`, then scales by `1/(1 + ηλ(1 − r))`, as scikit-learn's
    /// coordinate descent does. NaN weights stay NaN.
    ///
    /// Returns the penalty of the new weights and their number of exact
    /// zeros, from the same pass.
    ///
    /// # Errors
    /// [`Error::InvalidStep`] if `eta` is negative, NaN or infinite; the
    /// weights are then unchanged.
    ///
    /// ```
    /// use regnorm::{L2, Regularizer};
    /// let mut w = [3.0f64, -1.5];
    /// let step = L2::new(0.25)?.prox_step(&mut w, 2.0)?; // divide by 1 + 2·2·0.25 = 2
    /// assert_eq!(w, [1.5, -0.75]);
    /// assert_eq!((step.penalty, step.zeros), (0.25 * (2.25 + 0.5625), 0));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn prox_step<T: Element>(&self, params: &mut [T], eta: f64) -> Result<ProxStats, Error> {
        let pass = self.prox_pass(params, check_step(eta)?);
        let exec = self.exec();
        let totals = reduce::run(pass, self.which(), exec.tier(), exec.par());
        Ok(ProxStats {
            penalty: self.value_of(totals.sums),
            zeros: totals.zeros,
        })
    }

    /// [`prox_step`](Regularizer::prox_step) over a whole model; the penalty
    /// is the model's after the step, the zeros are counted over all
    /// tensors.
    ///
    /// # Errors
    /// [`Error::InvalidStep`]; no weight is then changed.
    ///
    /// ```
    /// use regnorm::{L1, Regularizer};
    /// let mut model = vec![vec![0.5f32, -0.05], vec![0.01; 3]];
    /// let step = L1::new(0.1)?.prox_step_model(&mut model, 1.0)?;
    /// assert_eq!(step.zeros, 4);
    /// assert_eq!(model[0], [0.4, 0.0]);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    fn prox_step_model<T, P>(&self, params: P, eta: f64) -> Result<ProxStats, Error>
    where
        T: Element,
        P: IntoIterator,
        P::Item: AsMut<[T]>,
    {
        let eta = check_step(eta)?;
        Ok(with_mut_slices(params, |tensors| {
            let exec = self.exec();
            let passes = tensors.into_iter().map(|w| self.prox_pass(w, eta));
            let totals = reduce::in_order(reduce::run_model(
                passes,
                self.which(),
                exec.tier(),
                exec.par(),
            ));
            ProxStats {
                penalty: self.value_of(totals.sums),
                zeros: totals.zeros,
            }
        }))
    }
}

/// The gradient pass over a whole model, reducing the weights as `which`
/// says; the shapes are checked before anything is written.
fn gradient_model<R, T, P, G>(r: &R, params: P, grads: G, which: Which) -> Result<Totals, Error>
where
    R: Regularizer,
    T: Element,
    P: IntoIterator,
    P::Item: AsRef<[T]>,
    G: IntoIterator,
    G::Item: AsMut<[T]>,
{
    with_gradient_passes(params, grads, r.gradient_coefficients::<T>(), |passes| {
        let exec = r.exec();
        reduce::in_order(reduce::run_model(passes, which, exec.tier(), exec.par()))
    })
}

pub(crate) mod sealed {
    use super::*;

    /// A regularizer as `λ₁·Σ|w| + λ₂·Σw²`, and its value formula.
    pub trait Sealed {
        /// `(λ₁, λ₂)`; `None` for a term the regularizer does not have,
        /// which is then never computed (so an overflowing Σw² cannot turn
        /// an L1 penalty into NaN).
        fn terms(&self) -> (Option<f64>, Option<f64>);

        /// The penalty from the sums it needs, as the type documents it.
        fn value_of(&self, sums: Sums) -> f64;

        /// The sums the penalty needs.
        fn which(&self) -> Which {
            let (l1, l2) = self.terms();
            Which::of(l1.is_some(), l2.is_some())
        }

        /// The gradient pass's coefficients: `g ← fma(b, w, g + a·sign(w))`,
        /// `a = λ₁`, `b = 2λ₂`.
        fn gradient_coefficients<T: Element>(&self) -> Coefficients<Lane<T>> {
            let (l1, l2) = self.terms();
            Coefficients::new(
                l1.map(coefficient::<T>),
                l2.map(|l2| coefficient::<T>(2.0 * l2)),
            )
        }

        /// The gradient pass over one tensor, or
        /// [`Error::LengthMismatch`] if `w` and `g` differ in length.
        fn gradient_pass<'a, T: Element>(
            &self,
            w: &'a [T],
            g: &'a mut [T],
        ) -> Result<AddGradient<'a, T>, Error> {
            AddGradient::new(w, g, self.gradient_coefficients::<T>())
        }

        /// The proximal pass: threshold `η·λ₁`, scale `1/(1 + 2·η·λ₂)`.
        fn prox_pass<'a, T: Element>(&self, w: &'a mut [T], eta: f64) -> Prox<'a, T> {
            let (l1, l2) = self.terms();
            Prox {
                w,
                k: Coefficients::new(
                    l1.map(|l1| coefficient::<T>(eta * l1)),
                    // η·λ₂ first: (2·η)·λ₂ would overflow to +Inf for η > 2¹⁰²³
                    // and turn λ₂ = 0 into NaN (a fuzz find, tests/regressions.rs).
                    l2.map(|l2| coefficient::<T>(1.0 / (1.0 + 2.0 * (eta * l2)))),
                ),
            }
        }
    }
}

/// The L1 (Lasso) penalty `λ·Σ|w|`.
///
/// ```
/// use regnorm::{L1, Regularizer};
/// let l1 = L1::new(0.01)?;
/// assert_eq!(l1.lambda(), 0.01);
/// assert_eq!(l1.penalty(&[-2.0f64, 2.0]), 0.04);
/// # Ok::<(), regnorm::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct L1 {
    lambda: f64,
    exec: Exec,
}

/// The L2 (Ridge) penalty `λ·Σw²`, with no factor ½: its gradient is `2λw`.
///
/// ```
/// use regnorm::{L2, Regularizer};
/// let l2 = L2::new(0.5)?;
/// assert_eq!(l2.penalty(&[-2.0f32, 2.0]), 4.0);
/// # Ok::<(), regnorm::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct L2 {
    lambda: f64,
    exec: Exec,
}

/// The ElasticNet penalty `λ·(r·Σ|w| + (1 − r)/2·Σw²)`, with `r` the
/// `l1_ratio`, as scikit-learn and glmnet define it: `r = 1` is `L1(λ)`,
/// `r = 0` is `L2(λ/2)`. Both sums come from one pass over the weights.
///
/// ```
/// use regnorm::{ElasticNet, L1, Regularizer};
/// let en = ElasticNet::new(0.1, 0.75)?;
/// assert_eq!((en.lambda(), en.l1_ratio()), (0.1, 0.75));
/// let w = [1.0f32, -2.0];
/// assert_eq!(en.penalty(&w), 0.1 * (0.75 * 3.0 + 0.125 * 5.0));
/// assert_eq!(ElasticNet::new(0.1, 1.0)?.penalty(&w), L1::new(0.1)?.penalty(&w));
/// # Ok::<(), regnorm::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ElasticNet {
    lambda: f64,
    l1_ratio: f64,
    exec: Exec,
}

impl L1 {
    /// An L1 penalty of strength `lambda`.
    ///
    /// # Errors
    /// [`Error::InvalidLambda`] if `lambda` is negative, NaN or infinite.
    ///
    /// ```
    /// assert!(regnorm::L1::new(1e-4).is_ok());
    /// assert!(regnorm::L1::new(f64::NAN).is_err());
    /// ```
    pub fn new(lambda: f64) -> Result<L1, Error> {
        Ok(L1 {
            lambda: check_lambda(lambda)?,
            exec: Exec::new(),
        })
    }

    /// The strength λ.
    ///
    /// ```
    /// assert_eq!(regnorm::L1::new(0.25).unwrap().lambda(), 0.25);
    /// ```
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
}

impl L2 {
    /// An L2 penalty of strength `lambda`.
    ///
    /// # Errors
    /// [`Error::InvalidLambda`] if `lambda` is negative, NaN or infinite.
    ///
    /// ```
    /// assert!(regnorm::L2::new(0.0).is_ok());
    /// assert!(regnorm::L2::new(f64::INFINITY).is_err());
    /// ```
    pub fn new(lambda: f64) -> Result<L2, Error> {
        Ok(L2 {
            lambda: check_lambda(lambda)?,
            exec: Exec::new(),
        })
    }

    /// The strength λ.
    ///
    /// ```
    /// assert_eq!(regnorm::L2::new(0.25).unwrap().lambda(), 0.25);
    /// ```
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
}

impl ElasticNet {
    /// An ElasticNet penalty of strength `lambda` and mixing `l1_ratio`.
    ///
    /// # Errors
    /// [`Error::InvalidLambda`] if `lambda` is negative, NaN or infinite;
    /// [`Error::InvalidL1Ratio`] if `l1_ratio` is outside `[0, 1]` or NaN.
    ///
    /// ```
    /// use regnorm::{ElasticNet, Error};
    /// assert!(ElasticNet::new(0.1, 0.5).is_ok());
    /// assert_eq!(ElasticNet::new(0.1, 1.5), Err(Error::InvalidL1Ratio { l1_ratio: 1.5 }));
    /// ```
    pub fn new(lambda: f64, l1_ratio: f64) -> Result<ElasticNet, Error> {
        let lambda = check_lambda(lambda)?;
        if !(0.0..=1.0).contains(&l1_ratio) {
            return Err(Error::InvalidL1Ratio { l1_ratio });
        }
        Ok(ElasticNet {
            lambda,
            l1_ratio,
            exec: Exec::new(),
        })
    }

    /// The strength λ.
    ///
    /// ```
    /// assert_eq!(regnorm::ElasticNet::new(0.25, 0.5).unwrap().lambda(), 0.25);
    /// ```
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The mixing ratio `r` of the L1 term.
    ///
    /// ```
    /// assert_eq!(regnorm::ElasticNet::new(0.25, 0.5).unwrap().l1_ratio(), 0.5);
    /// ```
    pub fn l1_ratio(&self) -> f64 {
        self.l1_ratio
    }
}

impl sealed::Sealed for L1 {
    fn terms(&self) -> (Option<f64>, Option<f64>) {
        (Some(self.lambda), None)
    }
    fn value_of(&self, sums: Sums) -> f64 {
        self.lambda * sums.abs
    }
}

impl sealed::Sealed for L2 {
    fn terms(&self) -> (Option<f64>, Option<f64>) {
        (None, Some(self.lambda))
    }
    fn value_of(&self, sums: Sums) -> f64 {
        self.lambda * sums.sq
    }
}

impl sealed::Sealed for ElasticNet {
    fn terms(&self) -> (Option<f64>, Option<f64>) {
        let r = self.l1_ratio;
        let l1 = (r > 0.0).then_some(self.lambda * r);
        let l2 = (r < 1.0).then_some(self.lambda * (1.0 - r) / 2.0);
        (l1, l2)
    }
    fn value_of(&self, sums: Sums) -> f64 {
        let r = self.l1_ratio;
        match self.which() {
            Which::Abs => self.lambda * sums.abs,
            Which::Sq => self.lambda * (0.5 * sums.sq),
            _ => self.lambda * (r * sums.abs + (1.0 - r) / 2.0 * sums.sq),
        }
    }
}

macro_rules! regularizer_exec {
    ($($ty:ty),*) => {$(
        impl Regularizer for $ty {
            fn exec(&self) -> Exec {
                self.exec
            }
            fn with_exec(self, exec: Exec) -> Self {
                Self { exec, ..self }
            }
        }
    )*};
}
regularizer_exec!(L1, L2, ElasticNet);
