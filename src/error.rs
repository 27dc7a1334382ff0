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
