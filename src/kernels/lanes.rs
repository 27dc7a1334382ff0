//! The small vector interface the kernel body is written against.
//!
//! A tier supplies one [`Vector`] type per element type (one SIMD register:
//! `__m512`, `__m256d`, `wide::f32x8`, ...). [`Lanes<V, N>`] puts `N` of them
//! side by side to hold the `L` lanes of the canonical order, and [`Group`]
//! is what the kernel body sees: `L` lanes it can load, transform, add and
//! fold, whatever the register width underneath.

use core::fmt::Debug;
use core::ops::{Add, Mul};

use crate::element::Element;

/// The scalar type a lane accumulates in: `f32` or `f64`.
pub trait Float:
    Copy + Add<Output = Self> + Mul<Output = Self> + PartialOrd + Debug + Send + Sync + 'static
{
    const ZERO: Self;
    /// Half the distance from 1 to the next value: the relative error bound
    /// of one rounding.
    const UNIT_ROUNDOFF: f64;
    fn abs(self) -> Self;
    /// Exact widening to `f64`.
    fn to_f64(self) -> f64;
}

impl Float for f32 {
    const ZERO: f32 = 0.0;
    const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;
    #[inline(always)]
    fn abs(self) -> f32 {
        f32::abs(self)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    const ZERO: f64 = 0.0;
    const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;
    #[inline(always)]
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// One SIMD register of `WIDTH` lanes.
///
/// # Safety
/// Every method may use instructions of the tier the implementing type
/// belongs to: the caller must have checked that the CPU supports them.
/// Pointer arguments must be valid for the reads each method states.
pub trait Vector: Copy {
    type Elem: Element;
    const WIDTH: usize;
    /// All lanes `+0.0`.
    unsafe fn zero() -> Self;
    /// Loads `WIDTH` elements from `ptr` (any alignment).
    unsafe fn load(ptr: *const Self::Elem) -> Self;
    /// Loads `len < WIDTH` elements from `ptr`, the other lanes `+0.0`;
    /// reads no memory past `ptr + len`.
    unsafe fn load_partial(ptr: *const Self::Elem, len: usize) -> Self;
    unsafe fn abs(self) -> Self;
    /// Lane-wise product, rounded once (never fused with a later add).
    unsafe fn mul(self, rhs: Self) -> Self;
    unsafe fn add(self, rhs: Self) -> Self;
    /// Writes the lanes, widened exactly to `f64`, to `out[..WIDTH]`;
    /// `out` must hold at least `WIDTH` values.
    unsafe fn to_f64(self, out: &mut [f64]);
}

/// The `L` lanes of the canonical order, as the kernel body sees them.
///
/// # Safety
/// As for [`Vector`]: the CPU must support the tier's instructions.
pub trait Group: Copy {
    type Elem: Element;
    /// `L`, the lane count of the canonical order for `Elem`.
    const LANES: usize;
    unsafe fn zero() -> Self;
    /// Loads `chunk`, which must hold exactly `LANES` elements.
    unsafe fn load(chunk: &[Self::Elem]) -> Self;
    /// Loads `rest` (fewer than `LANES` elements) into the first lanes and
    /// zeros into the others, reading nothing outside `rest`.
    unsafe fn load_partial(rest: &[Self::Elem]) -> Self;
    unsafe fn abs(self) -> Self;
    unsafe fn square(self) -> Self;
    unsafe fn add(self, rhs: Self) -> Self;
    /// Folds the lanes in `f64` with [`fold_tree`].
    unsafe fn fold(self) -> f64;
}

/// `N` registers side by side: lane `i` is lane `i % WIDTH` of register
/// `i / WIDTH`.
#[derive(Clone, Copy)]
pub struct Lanes<V, const N: usize>([V; N]);

/// The largest lane count of any element type; sizes scratch arrays.
pub(crate) const MAX_LANES: usize = 32;

impl<V: Vector, const N: usize> Group for Lanes<V, N> {
    type Elem = V::Elem;
    const LANES: usize = N * V::WIDTH;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller guarantees the tier's CPU features.
        Self([unsafe { V::zero() }; N])
    }

    #[inline(always)]
    unsafe fn load(chunk: &[Self::Elem]) -> Self {
        debug_assert_eq!(chunk.len(), Self::LANES);
        let p = chunk.as_ptr();
        // SAFETY: features: the caller.
        let mut out = unsafe { Self::zero() }.0;
        for (k, v) in out.iter_mut().enumerate() {
            // SAFETY: `chunk` holds N * WIDTH elements, so register k reads
            // p[k * WIDTH .. (k + 1) * WIDTH], inside it; features: the caller.
            *v = unsafe { V::load(p.add(k * V::WIDTH)) };
        }
        Self(out)
    }

    #[inline(always)]
    unsafe fn load_partial(rest: &[Self::Elem]) -> Self {
        debug_assert!(rest.len() < Self::LANES);
        let p = rest.as_ptr();
        // SAFETY: features: the caller.
        let mut out = unsafe { Self::zero() }.0;
        for (k, v) in out.iter_mut().enumerate() {
            let start = k * V::WIDTH;
            let left = rest.len().saturating_sub(start);
            // SAFETY: each branch reads only p[start .. start + min(left,
            // WIDTH)], which lies inside `rest`; features: the caller.
            unsafe {
                if left >= V::WIDTH {
                    *v = V::load(p.add(start));
                } else if left > 0 {
                    *v = V::load_partial(p.add(start), left);
                }
            }
        }
        Self(out)
    }

    // Plain loops rather than `array::map`: a closure passed to `map` may be
    // compiled outside the `#[target_feature]` function and not inlined.
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        let mut out = self.0;
        for v in &mut out {
            // SAFETY: features: the caller.
            *v = unsafe { v.abs() };
        }
        Self(out)
    }

    #[inline(always)]
    unsafe fn square(self) -> Self {
        let mut out = self.0;
        for v in &mut out {
            // SAFETY: features: the caller.
            *v = unsafe { v.mul(*v) };
        }
        Self(out)
    }

    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        let mut out = self.0;
        for (o, r) in out.iter_mut().zip(rhs.0) {
            // SAFETY: features: the caller.
            *o = unsafe { o.add(r) };
        }
        Self(out)
    }

    #[inline(always)]
    unsafe fn fold(self) -> f64 {
        let mut wide = [0.0f64; MAX_LANES];
        for (k, v) in self.0.into_iter().enumerate() {
            // SAFETY: writes wide[k * WIDTH .. (k + 1) * WIDTH], inside the
            // array since N * WIDTH = LANES <= MAX_LANES; features: the caller.
            unsafe { v.to_f64(&mut wide[k * V::WIDTH..]) };
        }
        fold_tree(&mut wide[..Self::LANES])
    }
}

/// The fixed lane-folding tree: with `w` = L/2, L/4, ..., 1, lane `i`
/// becomes lane `i` + lane `i + w` for every `i < w`; the result is lane 0.
/// `lanes.len()` must be a power of two.
#[inline(always)]
pub(crate) fn fold_tree(lanes: &mut [f64]) -> f64 {
    debug_assert!(lanes.len().is_power_of_two());
    let mut w = lanes.len() / 2;
    while w >= 1 {
        let (low, high) = lanes.split_at_mut(w);
        for (l, h) in low.iter_mut().zip(&high[..w]) {
            *l += *h;
        }
        w /= 2;
    }
    lanes[0]
}
