//! The element types regnorm reduces over.
//!
//! [`Element`] is sealed: it is implemented for [`f32`], [`f64`] and (feature
//! `half`) `bf16` and `f16`, and its hidden part names, for each element
//! type, the lane type it accumulates in and its lane count. Which
//! registers each kernel tier uses for it is the kernels' business
//! ([`crate::kernels::TierLanes`]). The half types use `f32` lanes.

use core::fmt::Debug;

use crate::kernels::TierLanes;
use crate::kernels::lanes::Float;

/// A floating-point type whose slices regnorm can reduce: [`f32`], [`f64`],
/// and with the `half` feature (on by default) [`half::bf16`] and
/// [`half::f16`].
///
/// Half types reduce in `f32` lanes, exactly as their widening to `f32`
/// does, and element-wise operations on them are the `f32` operation on the
/// widened values, rounded once to the half type (see the crate docs).
///
/// The trait is sealed; its methods are an implementation detail.
///
/// ```
/// fn l1_of<T: regnorm::Element>(w: &[T]) -> f64 {
///     regnorm::sum_abs(w)
/// }
/// assert_eq!(l1_of(&[1.0f32, -2.0]), 3.0);
/// assert_eq!(l1_of(&[1.0f64, -2.0]), 3.0);
/// ```
pub trait Element:
    sealed::Sealed + TierLanes + Copy + Debug + PartialEq + Send + Sync + 'static
{
}

impl Element for f32 {}
impl Element for f64 {}
#[cfg(feature = "half")]
impl Element for half::bf16 {}
#[cfg(feature = "half")]
impl Element for half::f16 {}

/// The type the lanes of `T` accumulate in.
pub type Lane<T> = <T as sealed::Sealed>::Lane;

pub(crate) mod sealed {
    use super::*;

    /// What the kernels need to know about an element type.
    pub trait Sealed: Sized {
        /// The type each lane accumulates in (the element type itself for
        /// `f32` and `f64`; `f32` for the half-precision types to come).
        type Lane: Float;
        /// The number of lanes `L` of the canonical order ([`crate::order`]).
        const LANES: usize;
        /// Whether the lane type is the element type itself (`f32`, `f64`),
        /// so that storing a lane value loses nothing.
        const LANE_IS_ELEMENT: bool = true;
        /// A number that tells the element types apart in a shard layout's
        /// fingerprint (`crate::shard`).
        const TAG: u64;
        /// The element as a lane value (exact).
        fn to_lane(self) -> Self::Lane;
        /// A lane value stored as an element (exact for `f32` and `f64`).
        fn from_lane(v: Self::Lane) -> Self;
    }

    impl Sealed for f32 {
        type Lane = f32;
        const LANES: usize = crate::order::LANES_F32;
        const TAG: u64 = 1;
        #[inline(always)]
        fn to_lane(self) -> f32 {
            self
        }
        #[inline(always)]
        fn from_lane(v: f32) -> f32 {
            v
        }
    }

    impl Sealed for f64 {
        type Lane = f64;
        const LANES: usize = crate::order::LANES_F64;
        const TAG: u64 = 2;
        #[inline(always)]
        fn to_lane(self) -> f64 {
            self
        }
        #[inline(always)]
        fn from_lane(v: f64) -> f64 {
            v
        }
    }

    /// `bf16` and `f16`: `f32` lanes, widened exactly and narrowed with
    /// round-to-nearest-even by the `half` crate (the scalar reference and
    /// the portable tier) or by the x86 tiers' own instructions.
    #[cfg(feature = "half")]
    macro_rules! half_element {
        ($t:ty, $tag:expr) => {
            impl Sealed for $t {
                type Lane = f32;
                const LANES: usize = crate::order::LANES_F32;
                const LANE_IS_ELEMENT: bool = false;
                const TAG: u64 = $tag;
                #[inline(always)]
                fn to_lane(self) -> f32 {
                    self.to_f32()
                }
                #[inline(always)]
                fn from_lane(v: f32) -> $t {
                    <$t>::from_f32(v)
                }
            }
        };
    }
    #[cfg(feature = "half")]
    half_element!(half::bf16, 3);
    #[cfg(feature = "half")]
    half_element!(half::f16, 4);
}
