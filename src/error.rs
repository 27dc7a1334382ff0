//! The error type for bad input.

use core::fmt;

use crate::kernels::Tier;

/// What was wrong with an argument; every fallible regnorm call returns it.
///
/// ```
/// let err = regnorm::L1::new(-0.5).unwrap_err();
/// assert_eq!(err, regnorm::Error::InvalidLambda { lambda: -0.5 });
/// assert_eq!(
///     err.to_string(),
///     "invalid regularization strength lambda = -0.5: it must be finite and >= 0"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A regularization strength λ that is negative, NaN or infinite.
    InvalidLambda {
        /// The value given.
        lambda: f64,
    },
    /// An ElasticNet mixing ratio outside `[0, 1]`, or NaN.
    InvalidL1Ratio {
        /// The value given.
        l1_ratio: f64,
    },
    /// A kernel tier this CPU (or build target) cannot run.
    TierUnavailable {
        /// The tier asked for.
        tier: Tier,
    },
    /// A step size η that is negative, NaN or infinite.
    InvalidStep {
        /// The value given.
        eta: f64,
    },
    /// A clipping threshold that is negative or NaN.
    InvalidMaxNorm {
        /// The value given.
        max_norm: f64,
    },
    /// Parameters and gradients given as different numbers of tensors.
    TensorCountMismatch {
        /// The number of parameter tensors.
        params: usize,
        /// The number of gradient tensors.
        grads: usize,
    },
    /// A parameter tensor and its gradient of different lengths.
    LengthMismatch {
        /// The position of the tensor in the model (0 for a single tensor).
        index: usize,
        /// The parameter tensor's length.
        params: usize,
        /// The gradient tensor's length.
        grads: usize,
    },
    /// The total gradient norm is NaN or infinite, and the caller asked for
    /// an error in that case ([`ClipGradNorm::error_if_nonfinite`](crate::ClipGradNorm::error_if_nonfinite)).
    NonFiniteNorm {
        /// The total norm computed.
        total: f64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidLambda { lambda } => write!(
                f,
                "invalid regularization strength lambda = {lambda}: it must be finite and >= 0"
            ),
            Error::InvalidL1Ratio { l1_ratio } => write!(
                f,
                "invalid ElasticNet l1_ratio = {l1_ratio}: it must lie in [0, 1]"
            ),
            Error::InvalidStep { eta } => {
                write!(
                    f,
                    "invalid step size eta = {eta}: it must be finite and >= 0"
                )
            }
            Error::InvalidMaxNorm { max_norm } => {
                write!(
                    f,
                    "invalid max_norm = {max_norm}: it must be >= 0 (+inf disables clipping)"
                )
            }
            Error::TensorCountMismatch { params, grads } => write!(
                f,
                "{params} parameter tensors but {grads} gradient tensors: they must pair up one to one"
            ),
            Error::LengthMismatch {
                index,
                params,
                grads,
            } => write!(
                f,
                "tensor {index}: parameters have {params} elements but gradients {grads}: they must match"
            ),
            Error::NonFiniteNorm { total } => write!(
                f,
                "the total gradient norm is {total}, not finite; gradients left unchanged"
            ),
            Error::TierUnavailable { tier } => write!(
                f,
                "kernel tier `{tier}` is not available on this CPU; available: {}",
                Tier::available()
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl std::error::Error for Error {}

/// `Ok(lambda)` if it is a valid regularization strength.
pub(crate) fn check_lambda(lambda: f64) -> Result<f64, Error> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(lambda)
    } else {
        Err(Error::InvalidLambda { lambda })
    }
}

/// `Ok(eta)` if it is a valid step size.
pub(crate) fn check_step(eta: f64) -> Result<f64, Error> {
    if eta.is_finite() && eta >= 0.0 {
        Ok(eta)
    } else {
        Err(Error::InvalidStep { eta })
    }
}
