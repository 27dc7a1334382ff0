//! The portable tier: the kernel body on `wide` vectors.
//!
//! `wide` chooses its instructions when the crate is compiled (SSE2 in a
//! default x86_64 build, AVX with `-C target-cpu=native`, NEON on aarch64),
//! so this tier runs everywhere and needs no run-time check.

use wide::{f32x8, f64x4};

use super::lanes::{Lanes, Vector, run_bounds};
#[cfg(feature = "half")]
use super::widened::{HalfIo, Widened};
#[cfg(feature = "half")]
use crate::element::Element;
#[cfg(feature = "half")]
use crate::element::sealed::Sealed;

/// The 64 `f32` lanes as eight `f32x8`.
pub(crate) type F32Lanes = Lanes<f32x8, 8>;
/// The 32 `f64` lanes as eight `f64x4`.
pub(crate) type F64Lanes = Lanes<f64x4, 8>;

macro_rules! wide_vector {
    ($vec:ty, $elem:ty, $width:literal) => {
        impl Vector for $vec {
            type Elem = $elem;
            type Wide = f64x4;
            const WIDTH: usize = $width;
            // Unaligned loads cost nothing extra here: rows need no framing.
            const ALIGN: usize = size_of::<$elem>();

            #[inline(always)]
            unsafe fn zero() -> Self {
                <$vec>::ZERO
            }

            #[inline(always)]
            unsafe fn splat(v: $elem) -> Self {
                <$vec>::splat(v)
            }

            #[inline(always)]
            unsafe fn load(ptr: *const $elem) -> Self {
                // SAFETY: the caller guarantees `ptr` is valid for WIDTH
                // reads; `read_unaligned` needs no alignment.
                <$vec>::new(unsafe { ptr.cast::<[$elem; $width]>().read_unaligned() })
            }

            #[inline(always)]
            unsafe fn load_masked(ptr: *const $elem, mask: u32) -> Self {
                let mut lanes = [0.0; $width];
                let (lo, hi) = run_bounds(mask);
                // SAFETY: the caller guarantees the lanes lo..hi of the mask
                // readable, and lo <= hi <= WIDTH fit in `lanes`.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        ptr.wrapping_add(lo),
                        lanes.as_mut_ptr().add(lo),
                        hi - lo,
                    )
                };
                <$vec>::new(lanes)
            }

            #[inline(always)]
            unsafe fn store(self, ptr: *mut $elem) {
                // SAFETY: the caller guarantees `ptr` is valid for WIDTH
                // writes; `write_unaligned` needs no alignment.
                unsafe {
                    ptr.cast::<[$elem; $width]>()
                        .write_unaligned(self.to_array())
                }
            }

            #[inline(always)]
            unsafe fn store_masked(self, ptr: *mut $elem, mask: u32) {
                let lanes = self.to_array();
                let (lo, hi) = run_bounds(mask);
                // SAFETY: the caller guarantees the lanes lo..hi of the mask
                // writable, and lo <= hi <= WIDTH lanes exist to copy.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        lanes.as_ptr().add(lo),
                        ptr.wrapping_add(lo),
                        hi - lo,
                    )
                };
            }

            #[inline(always)]
            unsafe fn abs(self) -> Self {
                <$vec>::abs(self)
            }

            #[inline(always)]
            unsafe fn sub(self, rhs: Self) -> Self {
                self - rhs
            }

            #[inline(always)]
            unsafe fn mul_add(self, a: Self, b: Self) -> Self {
                // `wide` fuses only where the target has an instruction for
                // it (x86 FMA, aarch64 NEON) and otherwise rounds twice;
                // elsewhere each lane takes the exact software fma of std.
                if cfg!(any(
                    all(target_arch = "x86_64", target_feature = "fma"),
                    all(target_arch = "aarch64", target_feature = "neon")
                )) {
                    <$vec>::mul_add(self, a, b)
                } else {
                    let (s, a, b) = (self.to_array(), a.to_array(), b.to_array());
                    <$vec>::new(core::array::from_fn(|i| s[i].mul_add(a[i], b[i])))
                }
            }

            #[inline(always)]
            unsafe fn sign(self) -> Self {
                let signed_one = <$vec>::splat(1.0) | (self & <$vec>::splat(-0.0));
                // `simd_ne` is true for NaN too; NaN lanes are replaced next.
                let nonzero = self.simd_ne(<$vec>::ZERO);
                self.is_nan().bitselect(self, signed_one & nonzero)
            }

            #[inline(always)]
            unsafe fn copysign(self, sign: Self) -> Self {
                self.abs() | (sign & <$vec>::splat(-0.0))
            }

            #[inline(always)]
            unsafe fn where_positive(self, value: Self) -> Self {
                // `simd_le` is false for NaN, so NaN lanes keep `value`.
                value & !self.simd_le(<$vec>::ZERO)
            }

            #[inline(always)]
            unsafe fn zero_mask(self) -> u32 {
                self.simd_eq(<$vec>::ZERO).to_bitmask()
            }

            #[inline(always)]
            unsafe fn mul(self, rhs: Self) -> Self {
                self * rhs
            }

            #[inline(always)]
            unsafe fn add(self, rhs: Self) -> Self {
                self + rhs
            }

            #[inline(always)]
            unsafe fn widen(self, out: &mut [f64x4]) {
                let lanes = self.to_array();
                for (o, four) in out.iter_mut().zip(lanes.chunks_exact(4)) {
                    *o = f64x4::new(core::array::from_fn(|i| f64::from(four[i])));
                }
            }
        }
    };
}

wide_vector!(f32x8, f32, 8);
wide_vector!(f64x4, f64, 4);

/// Half types in `f32x8`: each lane widened and narrowed by the element
/// type's own exact conversions (the `half` crate's).
#[cfg(feature = "half")]
impl<H> HalfIo<H> for f32x8
where
    H: Element + Sealed<Lane = f32>,
{
    #[inline(always)]
    unsafe fn load_half(ptr: *const H) -> Self {
        // SAFETY: the caller guarantees `ptr` valid for 8 reads;
        // `read_unaligned` needs no alignment.
        let h = unsafe { ptr.cast::<[H; 8]>().read_unaligned() };
        f32x8::new(h.map(Sealed::to_lane))
    }
    #[inline(always)]
    unsafe fn store_half(self, ptr: *mut H) {
        let h = self.to_array().map(H::from_lane);
        // SAFETY: the caller guarantees `ptr` valid for 8 writes;
        // `write_unaligned` needs no alignment.
        unsafe { ptr.cast::<[H; 8]>().write_unaligned(h) }
    }
}

/// The 64 `f32` lanes of a half type `H` as eight widened `f32x8`.
#[cfg(feature = "half")]
pub(crate) type HalfLanes<H> = Lanes<Widened<f32x8, H>, 8>;

#[cfg(test)]
mod tests {
    use super::{F32Lanes, F64Lanes};
    use crate::kernels::lanes::Group;

    /// Only the lanes in `lo..hi` count, whatever the others hold: the
    /// proximal step's zero count must not depend on the values its
    /// coefficients give the padding lanes.
    #[test]
    fn count_zeros_counts_only_the_range() {
        for lo in 0..=32 {
            for hi in lo..=32 {
                // SAFETY: the portable tier runs on every CPU.
                unsafe {
                    assert_eq!(F32Lanes::zero().count_zeros(lo, hi) as usize, hi - lo);
                    assert_eq!(F32Lanes::splat(f32::NAN).count_zeros(lo, hi), 0);
                    assert_eq!(F32Lanes::splat(-0.0).count_zeros(lo, hi) as usize, hi - lo);
                }
            }
        }
        for lo in 0..=16 {
            for hi in lo..=16 {
                // SAFETY: as above.
                unsafe {
                    assert_eq!(F64Lanes::zero().count_zeros(lo, hi) as usize, hi - lo);
                    assert_eq!(F64Lanes::splat(f64::NAN).count_zeros(lo, hi), 0);
                }
            }
        }
    }
}
