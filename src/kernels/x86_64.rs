//! The x86_64 tiers: the kernel body on AVX and AVX-512F registers.
//!
//! Each [`Vector`] method here uses instructions the default x86_64 target
//! does not enable; they are only executed inside the `#[target_feature]`
//! entry points at the bottom of this file, which the dispatcher calls after
//! checking the CPU (see [`super::Tier::is_available`]). Inlined there, the
//! intrinsics compile to AVX / AVX-512 code even in a build without RUSTFLAGS.

use core::arch::x86_64::*;

use super::Sums;
use super::body;
use super::lanes::{Lanes, Vector};
use crate::element::Element;

/// The 32 `f32` lanes as four `__m256`.
pub(crate) type AvxF32 = Lanes<__m256, 4>;
/// The 16 `f64` lanes as four `__m256d`.
pub(crate) type AvxF64 = Lanes<__m256d, 4>;
/// The 32 `f32` lanes as two `__m512`.
pub(crate) type Avx512F32 = Lanes<__m512, 2>;
/// The 16 `f64` lanes as two `__m512d`.
pub(crate) type Avx512F64 = Lanes<__m512d, 2>;

/// Eight all-ones lanes, then eight zero lanes: the eight 32-bit lanes
/// starting at `8 - len` are a `maskload` mask selecting the first `len`.
static MASK_32: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
/// As [`MASK_32`], for four 64-bit lanes.
static MASK_64: [i64; 8] = [-1, -1, -1, -1, 0, 0, 0, 0];

impl Vector for __m256 {
    type Elem = f32;
    const WIDTH: usize = 8;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX, guaranteed by the caller.
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(ptr: *const f32) -> Self {
        // SAFETY: AVX; `ptr` valid for 8 reads (caller); loadu takes any alignment.
        unsafe { _mm256_loadu_ps(ptr) }
    }
    #[inline(always)]
    unsafe fn load_partial(ptr: *const f32, len: usize) -> Self {
        // SAFETY: AVX; len < 8 so the mask window lies inside MASK_32;
        // maskload does not touch (or fault on) the masked-off lanes, and the
        // `len` selected ones are valid to read (caller).
        unsafe {
            let mask = _mm256_loadu_si256(MASK_32.as_ptr().add(8 - len).cast());
            _mm256_maskload_ps(ptr, mask)
        }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX, guaranteed by the caller.
        unsafe { _mm256_and_ps(self, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX))) }
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        // SAFETY: AVX, guaranteed by the caller.
        unsafe { _mm256_mul_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        // SAFETY: AVX, guaranteed by the caller.
        unsafe { _mm256_add_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn to_f64(self, out: &mut [f64]) {
        debug_assert!(out.len() >= 8);
        // SAFETY: AVX; `out` has room for the 8 values stored.
        unsafe {
            let low = _mm256_cvtps_pd(_mm256_castps256_ps128(self));
            let high = _mm256_cvtps_pd(_mm256_extractf128_ps(self, 1));
            _mm256_storeu_pd(out.as_mut_ptr(), low);
            _mm256_storeu_pd(out.as_mut_ptr().add(4), high);
        }
    }
}

impl Vector for __m256d {
    type Elem = f64;
    const WIDTH: usize = 4;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX, guaranteed by the caller.
        unsafe { _mm256_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn load(ptr: *const f64) -> Self {
        // SAFETY: AVX; `ptr` valid for 4 reads (caller); loadu takes any alignment.
        unsafe { _mm256_loadu_pd(ptr) }
    }
    #[inline(always)]
    unsafe fn load_partial(ptr: *const f64, len: usize) -> Self {
        // SAFETY: AVX; len < 4 so the mask window lies inside MASK_64;
        // maskload does not touch (or fault on) the masked-off lanes, and the
        // `len` selected ones are valid to read (caller).
        unsafe {
            let mask = _mm256_loadu_si256(MASK_64.as_ptr().add(4 - len).cast());
            _mm256_maskload_pd(ptr, mask)
        }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX, guaranteed by the caller.
        unsafe { _mm256_and_pd(self, _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX))) }
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        // SAFETY: AVX, guaranteed by the caller.
        unsafe { _mm256_mul_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        // SAFETY: AVX, guaranteed by the caller.
        unsafe { _mm256_add_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn to_f64(self, out: &mut [f64]) {
        debug_assert!(out.len() >= 4);
        // SAFETY: AVX; `out` has room for the 4 values stored.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), self) }
    }
}

impl Vector for __m512 {
    type Elem = f32;
    const WIDTH: usize = 16;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512F, guaranteed by the caller.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(ptr: *const f32) -> Self {
        // SAFETY: AVX-512F; `ptr` valid for 16 reads (caller); loadu takes any alignment.
        unsafe { _mm512_loadu_ps(ptr) }
    }
    #[inline(always)]
    unsafe fn load_partial(ptr: *const f32, len: usize) -> Self {
        let mask = ((1u32 << len) - 1) as __mmask16;
        // SAFETY: AVX-512F; a masked load does not touch (or fault on) the
        // masked-off lanes, and the `len` selected ones are valid to read.
        unsafe { _mm512_maskz_loadu_ps(mask, ptr) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX-512F, guaranteed by the caller.
        unsafe { _mm512_abs_ps(self) }
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F, guaranteed by the caller.
        unsafe { _mm512_mul_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F, guaranteed by the caller.
        unsafe { _mm512_add_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn to_f64(self, out: &mut [f64]) {
        debug_assert!(out.len() >= 16);
        // SAFETY: AVX-512F; `out` has room for the 16 values stored.
        unsafe {
            let low = _mm512_cvtps_pd(_mm512_castps512_ps256(self));
            let high = _mm512_extractf64x4_pd::<1>(_mm512_castps_pd(self));
            let high = _mm512_cvtps_pd(_mm256_castpd_ps(high));
            _mm512_storeu_pd(out.as_mut_ptr(), low);
            _mm512_storeu_pd(out.as_mut_ptr().add(8), high);
        }
    }
}

impl Vector for __m512d {
    type Elem = f64;
    const WIDTH: usize = 8;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512F, guaranteed by the caller.
        unsafe { _mm512_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn load(ptr: *const f64) -> Self {
        // SAFETY: AVX-512F; `ptr` valid for 8 reads (caller); loadu takes any alignment.
        unsafe { _mm512_loadu_pd(ptr) }
    }
    #[inline(always)]
    unsafe fn load_partial(ptr: *const f64, len: usize) -> Self {
        let mask = ((1u32 << len) - 1) as __mmask8;
        // SAFETY: AVX-512F; a masked load does not touch (or fault on) the
        // masked-off lanes, and the `len` selected ones are valid to read.
        unsafe { _mm512_maskz_loadu_pd(mask, ptr) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX-512F, guaranteed by the caller.
        unsafe { _mm512_abs_pd(self) }
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F, guaranteed by the caller.
        unsafe { _mm512_mul_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F, guaranteed by the caller.
        unsafe { _mm512_add_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn to_f64(self, out: &mut [f64]) {
        debug_assert!(out.len() >= 8);
        // SAFETY: AVX-512F; `out` has room for the 8 values stored.
        unsafe { _mm512_storeu_pd(out.as_mut_ptr(), self) }
    }
}

/// The kernel body compiled for AVX.
///
/// # Safety
/// The CPU must support AVX.
#[target_feature(enable = "avx")]
pub(crate) unsafe fn avx_sums<T: Element, const ABS: bool, const SQ: bool>(x: &[T]) -> Sums {
    // SAFETY: AVX is enabled here and guaranteed by the caller.
    unsafe { body::sums::<T::Avx, ABS, SQ>(x) }
}

/// The kernel body compiled for AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn avx512_sums<T: Element, const ABS: bool, const SQ: bool>(x: &[T]) -> Sums {
    // SAFETY: AVX-512F is enabled here and guaranteed by the caller.
    unsafe { body::sums::<T::Avx512, ABS, SQ>(x) }
}
