//! Global-norm gradient clipping and per-tensor norms.

use crate::element::Element;
use crate::error::Error;
use crate::exec::Exec;
use crate::kernels::ops::{Read, Scale, coefficient};
use crate::reduce::{self, Which};
use crate::tensors::with_mut_slices;

/// Clips gradients by their global L2 norm, as PyTorch's
/// `clip_grad_norm_`: the total norm `‖g‖ = √(Σ over all tensors of Σg²)`
/// comes from one reduction in the canonical order; if it exceeds
/// `max_norm`, every gradient is scaled by `max_norm / (‖g‖ + 1e-6)`
/// (computed in `f64`, rounded to the element type once). Below the
/// threshold the gradients are left untouched, bit for bit.
///
/// A NaN or infinite total is an [`Error::NonFiniteNorm`] (with no gradient
/// changed) if [`error_if_nonfinite`](ClipGradNorm::error_if_nonfinite) is
/// set; otherwise it propagates as in PyTorch: an infinite total scales
/// every gradient by 0 (finite ones become 0, infinite ones NaN), a NaN
/// total scales by NaN.
///
/// ```
/// use regnorm::ClipGradNorm;
/// let mut grads = vec![vec![3.0f32], vec![4.0f32]];
/// let total = ClipGradNorm::new(1.0)?.clip_model(&mut grads)?;
/// assert_eq!(total, 5.0);
/// assert!((grads[0][0] - 0.6).abs() < 1e-6 && (grads[1][0] - 0.8).abs() < 1e-6);
/// # Ok::<(), regnorm::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipGradNorm {
    max_norm: f64,
    error_if_nonfinite: bool,
    exec: Exec,
}

impl ClipGradNorm {
    /// Clipping to `max_norm` (`+inf` never clips).
    ///
    /// # Errors
    /// [`Error::InvalidMaxNorm`] if `max_norm` is negative or NaN.
    ///
    /// ```
    /// assert!(regnorm::ClipGradNorm::new(1.0).is_ok());
    /// assert!(regnorm::ClipGradNorm::new(f64::NAN).is_err());
    /// ```
    pub fn new(max_norm: f64) -> Result<ClipGradNorm, Error> {
        if max_norm >= 0.0 {
            Ok(ClipGradNorm {
                max_norm,
                error_if_nonfinite: false,
                exec: Exec::new(),
            })
        } else {
            Err(Error::InvalidMaxNorm { max_norm })
        }
    }

    /// Whether a non-finite total norm is an error (PyTorch's
    /// `error_if_nonfinite`); off by default.
    ///
    /// ```
    /// use regnorm::{ClipGradNorm, Error};
    /// let clip = ClipGradNorm::new(1.0)?.error_if_nonfinite(true);
    /// let mut g = [f32::INFINITY, 1.0];
    /// assert_eq!(clip.clip(&mut g), Err(Error::NonFiniteNorm { total: f64::INFINITY }));
    /// assert_eq!(g, [f32::INFINITY, 1.0]);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn error_if_nonfinite(self, on: bool) -> ClipGradNorm {
        ClipGradNorm {
            error_if_nonfinite: on,
            ..self
        }
    }

    /// The threshold.
    ///
    /// ```
    /// assert_eq!(regnorm::ClipGradNorm::new(2.5).unwrap().max_norm(), 2.5);
    /// ```
    pub fn max_norm(&self) -> f64 {
        self.max_norm
    }

    /// The same clipping, run as `exec` says (tier, threads).
    ///
    /// ```
    /// let clip = regnorm::ClipGradNorm::new(1.0).unwrap().with_exec(regnorm::Exec::sequential());
    /// let mut g = [0.5f32];
    /// assert_eq!(clip.clip(&mut g).unwrap(), 0.5);
    /// ```
    pub fn with_exec(self, exec: Exec) -> ClipGradNorm {
        ClipGradNorm { exec, ..self }
    }

    /// Clips one tensor; returns its norm before clipping.
    ///
    /// # Errors
    /// [`Error::NonFiniteNorm`] as described on the type.
    ///
    /// ```
    /// let mut g = [0.0f64, 10.0];
    /// let norm = regnorm::ClipGradNorm::new(5.0)?.clip(&mut g)?;
    /// assert_eq!(norm, 10.0);
    /// assert!((g[1] - 5.0).abs() < 1e-6);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn clip<T: Element>(&self, grads: &mut [T]) -> Result<f64, Error> {
        self.clip_model([grads])
    }

    /// Clips a whole model by its global norm; returns the norm before
    /// clipping.
    ///
    /// # Errors
    /// [`Error::NonFiniteNorm`] as described on the type.
    ///
    /// ```
    /// let mut grads = vec![vec![0.1f32; 100], vec![0.2f32; 10]];
    /// let before = grads.clone();
    /// let norm = regnorm::ClipGradNorm::new(10.0)?.clip_model(&mut grads)?;
    /// assert!(norm < 10.0);
    /// assert_eq!(grads, before); // below the threshold: untouched
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn clip_model<T, G>(&self, grads: G) -> Result<f64, Error>
    where
        T: Element,
        G: IntoIterator,
        G::Item: AsMut<[T]>,
    {
        let (tier, par) = (self.exec.tier(), self.exec.par());
        with_mut_slices(grads, |tensors| {
            let reads = tensors.iter().map(|g| Read(g));
            let total = reduce::in_order(reduce::run_model(reads, Which::Sq, tier, par))
                .sums
                .sq
                .sqrt();
            self.scale(total, tensors)
        })
    }

    /// How this clipping runs its calls.
    ///
    /// ```
    /// let clip = regnorm::ClipGradNorm::new(1.0)?;
    /// assert_eq!(clip.exec(), regnorm::Exec::new());
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn exec(&self) -> Exec {
        self.exec
    }

    /// Clips gradients by a total norm computed elsewhere: what finishes
    /// a sharded clipping, each rank scaling its own pieces by the global
    /// norm `√(merged Σg²)` of the merged [`Partial`](crate::shard::Partial)s
    /// (see [`crate::shard`]). Returns `total`; the decision and the scale
    /// are exactly [`clip_model`](ClipGradNorm::clip_model)'s.
    ///
    /// # Errors
    /// [`Error::NonFiniteNorm`] as described on the type.
    ///
    /// ```
    /// let clip = regnorm::ClipGradNorm::new(1.0)?;
    /// let (mut a, mut b) = (vec![3.0f32], vec![4.0f32]);
    /// clip.clip_model([&mut a, &mut b])?;
    /// let mut a2 = vec![3.0f32];
    /// clip.clip_with_norm(5.0, [&mut a2])?; // this rank's piece of the same model
    /// assert_eq!(a, a2);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn clip_with_norm<T, G>(&self, total: f64, grads: G) -> Result<f64, Error>
    where
        T: Element,
        G: IntoIterator,
        G::Item: AsMut<[T]>,
    {
        with_mut_slices(grads, |tensors| self.scale(total, tensors))
    }

    fn scale<T: Element>(&self, total: f64, tensors: Vec<&mut [T]>) -> Result<f64, Error> {
        if !total.is_finite() && self.error_if_nonfinite {
            return Err(Error::NonFiniteNorm { total });
        }
        if total > self.max_norm || total.is_nan() {
            let c = coefficient::<T>(self.max_norm / (total + 1e-6));
            let passes = tensors.into_iter().map(|x| Scale { x, c });
            let (tier, par) = (self.exec.tier(), self.exec.par());
            reduce::run_model(passes, Which::Neither, tier, par);
        }
        Ok(total)
    }
}
