//! Decoupled weight decay, as AdamW applies it.

use crate::element::Element;
use crate::error::{Error, check_lambda, check_step};
use crate::exec::Exec;
use crate::kernels::ops::{Scale, coefficient};
use crate::reduce::{self, Which};
use crate::tensors::with_mut_slices;

/// Decoupled weight decay (AdamW): `w ← w·(1 − η·λ)`, applied to the
/// weights directly rather than through the loss. The factor `1 − η·λ` is
/// computed in `f64` and rounded to the element type once. As in PyTorch,
/// `η·λ > 1` is not an error: the factor is then negative (and `-Inf` when
/// `η·λ` overflows the element type, which turns zero weights into NaN, as
/// IEEE says `0·Inf` is).
///
/// ```
/// use regnorm::WeightDecay;
/// let mut w = vec![1.0f32, -2.0, 0.0];
/// WeightDecay::new(0.01)?.apply(&mut w, 10.0)?; // factor 1 − 10·0.01 = 0.9
/// assert_eq!(w, [0.9, -1.8, 0.0]);
/// # Ok::<(), regnorm::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightDecay {
    lambda: f64,
    exec: Exec,
}

impl WeightDecay {
    /// Weight decay of strength `lambda`.
    ///
    /// # Errors
    /// [`Error::InvalidLambda`] if `lambda` is negative, NaN or infinite.
    ///
    /// ```
    /// assert!(regnorm::WeightDecay::new(0.01).is_ok());
    /// assert!(regnorm::WeightDecay::new(-0.01).is_err());
    /// ```
    pub fn new(lambda: f64) -> Result<WeightDecay, Error> {
        Ok(WeightDecay {
            lambda: check_lambda(lambda)?,
            exec: Exec::new(),
        })
    }

    /// The strength λ.
    ///
    /// ```
    /// assert_eq!(regnorm::WeightDecay::new(0.01).unwrap().lambda(), 0.01);
    /// ```
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The same decay, run as `exec` says (tier, threads).
    ///
    /// ```
    /// let decay = regnorm::WeightDecay::new(0.01).unwrap().with_exec(regnorm::Exec::sequential());
    /// let mut w = [1.0f64];
    /// decay.apply(&mut w, 1.0).unwrap();
    /// assert_eq!(w, [0.99]);
    /// ```
    pub fn with_exec(self, exec: Exec) -> WeightDecay {
        WeightDecay { exec, ..self }
    }

    /// Decays one tensor with step size (learning rate) `eta`.
    ///
    /// # Errors
    /// [`Error::InvalidStep`] if `eta` is negative, NaN or infinite; the
    /// weights are then unchanged.
    ///
    /// ```
    /// let mut w = [2.0f32];
    /// regnorm::WeightDecay::new(0.5)?.apply(&mut w, 1.0)?;
    /// assert_eq!(w, [1.0]);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn apply<T: Element>(&self, params: &mut [T], eta: f64) -> Result<(), Error> {
        let c = self.factor::<T>(eta)?;
        reduce::run(
            Scale { x: params, c },
            Which::Neither,
            self.exec.tier(),
            self.exec.par(),
        );
        Ok(())
    }

    /// Decays every tensor of a model with step size `eta`.
    ///
    /// # Errors
    /// [`Error::InvalidStep`]; no weight is then changed.
    ///
    /// ```
    /// let mut model = vec![vec![1.0f32; 3], vec![-4.0f32]];
    /// regnorm::WeightDecay::new(0.25)?.apply_model(&mut model, 1.0)?;
    /// assert_eq!(model, vec![vec![0.75f32; 3], vec![-3.0]]);
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn apply_model<T, P>(&self, params: P, eta: f64) -> Result<(), Error>
    where
        T: Element,
        P: IntoIterator,
        P::Item: AsMut<[T]>,
    {
        let c = self.factor::<T>(eta)?;
        with_mut_slices(params, |tensors| {
            let passes = tensors.into_iter().map(|x| Scale { x, c });
            reduce::run_model(passes, Which::Neither, self.exec.tier(), self.exec.par());
        });
        Ok(())
    }

    fn factor<T: Element>(&self, eta: f64) -> Result<crate::element::Lane<T>, Error> {
        Ok(coefficient::<T>(1.0 - check_step(eta)? * self.lambda))
    }
}
