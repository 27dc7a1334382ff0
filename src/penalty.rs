//! The regularizers: L1, L2 and ElasticNet over one tensor or a whole model.

use crate::element::Element;
use crate::error::{Error, check_lambda};
use crate::exec::Exec;
use crate::kernels::Sums;
use crate::reduce::{self, Which};

/// A penalty on weights, evaluated over one tensor or a whole model.
///
/// Implemented by [`L1`], [`L2`] and [`ElasticNet`]; sealed.
///
/// Results are carried and returned in `f64`, and are bitwise identical for
/// every tier and thread count. NaN in the weights gives a NaN penalty; ±Inf
/// (without NaN) gives +Inf when λ > 0; the penalty is `λ × sum` in IEEE
/// arithmetic, so λ = 0 gives 0 for finite weights and NaN for infinite ones.
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
pub trait Regularizer: sealed::Sealed + Sized {
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
        self.value_of(reduce::sums(weights, self.needs(), exec.tier(), exec.par()))
    }

    /// The penalty of a whole model in one call: the tensors are reduced in
    /// parallel (large ones split, small ones batched) and their sums added
    /// in order, so the result equals adding the tensors' sums one by one in
    /// `f64`. Accepts `&[&[T]]`, `&[Vec<T>]` or any iterator of slices.
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
        self.value_of(self.exec().model(tensors, self.needs()))
    }
}

pub(crate) mod sealed {
    use super::*;

    /// The penalty as a function of the sums.
    pub trait Sealed {
        /// The sums the penalty needs; an unneeded one is not computed (so
        /// an overflowing Σw² cannot turn an L1 penalty into NaN).
        fn needs(&self) -> Which;
        /// The penalty from the sums it needs.
        fn value_of(&self, sums: Sums) -> f64;
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

/// The L2 (Ridge) penalty `λ·Σw²`, with no factor ½.
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
    fn needs(&self) -> Which {
        Which::Abs
    }
    fn value_of(&self, sums: Sums) -> f64 {
        self.lambda * sums.abs
    }
}

impl sealed::Sealed for L2 {
    fn needs(&self) -> Which {
        Which::Sq
    }
    fn value_of(&self, sums: Sums) -> f64 {
        self.lambda * sums.sq
    }
}

impl sealed::Sealed for ElasticNet {
    fn needs(&self) -> Which {
        if self.l1_ratio == 1.0 {
            Which::Abs
        } else if self.l1_ratio == 0.0 {
            Which::Sq
        } else {
            Which::Both
        }
    }
    fn value_of(&self, sums: Sums) -> f64 {
        let r = self.l1_ratio;
        match self.needs() {
            Which::Abs => self.lambda * sums.abs,
            Which::Sq => self.lambda * (0.5 * sums.sq),
            Which::Both => self.lambda * (r * sums.abs + (1.0 - r) / 2.0 * sums.sq),
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
