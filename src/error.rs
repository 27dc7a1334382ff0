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
    /// A shard names a tensor the [`Layout`](crate::shard::Layout) does not
    /// have.
    UnknownTensor {
        /// The tensor index given.
        tensor: usize,
        /// The number of tensors in the layout.
        tensors: usize,
    },
    /// A shard's range does not lie inside its tensor.
    ShardOutOfRange {
        /// The tensor.
        tensor: usize,
        /// The range's first element.
        start: usize,
        /// The range's end (exclusive).
        end: usize,
        /// The tensor's length.
        tensor_len: usize,
    },
    /// A shard that does not start (or end) at a multiple of the layout's
    /// unit or at the tensor's end.
    ShardMisaligned {
        /// The tensor.
        tensor: usize,
        /// The range's first element.
        start: usize,
        /// The range's end (exclusive).
        end: usize,
        /// The unit: elements per super-chunk.
        unit: usize,
    },
    /// Elements of a tensor that two shards both cover.
    ShardOverlap {
        /// The tensor.
        tensor: usize,
        /// The first element covered twice.
        offset: usize,
    },
    /// Elements of a tensor that no shard covers.
    ShardGap {
        /// The tensor.
        tensor: usize,
        /// The first element not covered.
        offset: usize,
    },
    /// Partials made for different layouts (tensor counts, lengths or
    /// element types): ranks that disagree about the model.
    LayoutMismatch {
        /// The first partial (rank) whose layout differs from partial 0's.
        part: usize,
    },
    /// Words that are not a partial encoded by this version of regnorm, or
    /// whose subtrees do not fit the canonical tree.
    MalformedPartial,
    /// Ranks that made different collective calls (another operation,
    /// regularizer or strength, or another call in their sequence): every
    /// rank returns this, and no gradient is written.
    CallMismatch {
        /// The first partial (rank) whose call differs from partial 0's.
        part: usize,
    },
    /// A rank's local work panicked; it still took part in the exchange,
    /// so every rank returns this instead of waiting.
    RankPanicked {
        /// The first partial (rank) that panicked.
        part: usize,
    },
    /// A split into 0 parts.
    InvalidParts {
        /// The number given.
        parts: usize,
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
            Error::UnknownTensor { tensor, tensors } => write!(
                f,
                "shard of tensor {tensor}, but the layout has {tensors} tensors"
            ),
            Error::ShardOutOfRange {
                tensor,
                start,
                end,
                tensor_len,
            } => write!(
                f,
                "shard {start}..{end} of tensor {tensor} does not lie in its {tensor_len} elements"
            ),
            Error::ShardMisaligned {
                tensor,
                start,
                end,
                unit,
            } => write!(
                f,
                "shard {start}..{end} of tensor {tensor} is misaligned: a shard must start and end at a multiple of {unit} elements (whole 64 KiB super-chunks of the canonical order) or at the tensor's end"
            ),
            Error::ShardOverlap { tensor, offset } => write!(
                f,
                "tensor {tensor}: element {offset} is in two shards; every element must be in exactly one"
            ),
            Error::ShardGap { tensor, offset } => write!(
                f,
                "tensor {tensor}: element {offset} is in no shard; every element must be in exactly one"
            ),
            Error::LayoutMismatch { part } => write!(
                f,
                "rank {part} describes another model layout (tensor count, lengths or element type) than rank 0"
            ),
            Error::MalformedPartial => write!(
                f,
                "malformed partial: not made by this version of regnorm, or corrupted in transit"
            ),
            Error::InvalidParts { parts } => {
                write!(f, "cannot split a tensor into {parts} parts")
            }
            Error::CallMismatch { part } => write!(
                f,
                "rank {part} made a different collective call than rank 0 (operation, regularizer, strength or call order differ)"
            ),
            Error::RankPanicked { part } => {
                write!(f, "rank {part}'s local work panicked")
            }
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
