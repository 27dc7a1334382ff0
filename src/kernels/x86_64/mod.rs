//! The x86_64 tiers: the kernel body on AVX and AVX-512F registers.
//!
//! `avx.rs` and `avx512.rs` implement [`Vector`](super::lanes::Vector) with
//! instructions the default x86_64 target does not enable. They only run
//! inside the `#[target_feature]` entry points below, which the dispatcher
//! calls after checking the CPU (see [`super::Tier::is_available`]). Inlined
//! there, the intrinsics compile to AVX / AVX-512 code even in a build
//! without RUSTFLAGS.

mod avx;
mod avx512;

use core::arch::x86_64::{__m256, __m256d, __m512, __m512d};

use super::Work;
use super::body;
use super::lanes::Lanes;
use super::ops::Rows;

/// The 64 `f32` lanes as eight `__m256`.
pub(crate) type AvxF32 = Lanes<__m256, 8>;
/// The 32 `f64` lanes as eight `__m256d`.
pub(crate) type AvxF64 = Lanes<__m256d, 8>;
/// The 64 `f32` lanes as four `__m512`.
pub(crate) type Avx512F32 = Lanes<__m512, 4>;
/// The 32 `f64` lanes as four `__m512d`.
pub(crate) type Avx512F64 = Lanes<__m512d, 4>;
/// The 64 `f32` lanes of a half type `H` as eight widened `__m256`.
#[cfg(feature = "half")]
pub(crate) type AvxHalf<H> = Lanes<super::widened::Widened<__m256, H>, 8>;
/// The 64 `f32` lanes of a half type `H` as four widened `__m512`.
#[cfg(feature = "half")]
pub(crate) type Avx512Half<H> = Lanes<super::widened::Widened<__m512, H>, 4>;

/// The kernel body compiled for AVX2, FMA and F16C.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn avx_run<R: Rows, const ABS: bool, const SQ: bool>(
    work: Work<'_, R>,
    chunk: usize,
) {
    work.run_with(
        chunk,
        #[inline(always)]
        |rows, stream, out| {
            // Inlined at both call sites (a model's small tensors would
            // otherwise pay a call each). SAFETY: the features are enabled
            // here (the closure inherits them) and guaranteed by the caller.
            unsafe {
                body::run::<<R::Elem as crate::kernels::TierLanes>::Avx, R, ABS, SQ>(
                    rows, stream, chunk, out,
                )
            }
        },
    )
}

/// The kernel body compiled for AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn avx512_run<R: Rows, const ABS: bool, const SQ: bool>(
    work: Work<'_, R>,
    chunk: usize,
) {
    work.run_with(
        chunk,
        #[inline(always)]
        |rows, stream, out| {
            // Inlined at both call sites (a model's small tensors would
            // otherwise pay a call each). SAFETY: the features are enabled
            // here (the closure inherits them) and guaranteed by the caller.
            unsafe {
                body::run::<<R::Elem as crate::kernels::TierLanes>::Avx512, R, ABS, SQ>(
                    rows, stream, chunk, out,
                )
            }
        },
    )
}
