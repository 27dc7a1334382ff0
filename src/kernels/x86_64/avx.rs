//! [`Vector`] for the 256-bit AVX registers `__m256` (8 × f32) and
//! `__m256d` (4 × f64).
//!
//! Every method runs AVX instructions (and FMA for `mul_add`): callers
//! guarantee the CPU has both (the trait's contract), and the methods are
//! only executed inlined into the `#[target_feature(enable = "avx,fma")]`
//! entry point.

use core::arch::x86_64::*;

use crate::kernels::lanes::Vector;

/// Eight all-ones lanes, then eight zero lanes: the eight 32-bit lanes
/// starting at `8 - n` are a mask of the first `n` lanes.
static MASK_32: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
/// As [`MASK_32`], for four 64-bit lanes.
static MASK_64: [i64; 8] = [-1, -1, -1, -1, 0, 0, 0, 0];

/// All-ones in the first `n <= 8` f32 lanes, zero in the others.
///
/// # Safety
/// AVX (caller).
#[inline(always)]
unsafe fn prefix_32(n: usize) -> __m256 {
    // SAFETY: 8 - n is in 0..=8, so the 8 lanes read lie inside MASK_32.
    unsafe { _mm256_loadu_ps(MASK_32.as_ptr().add(8 - n).cast()) }
}

/// All-ones in the first `n <= 4` f64 lanes, zero in the others.
///
/// # Safety
/// AVX (caller).
#[inline(always)]
unsafe fn prefix_64(n: usize) -> __m256d {
    // SAFETY: 4 - n is in 0..=4, so the 4 lanes read lie inside MASK_64.
    unsafe { _mm256_loadu_pd(MASK_64.as_ptr().add(4 - n).cast()) }
}

/// The `maskload`/`maskstore` mask of f32 lanes `lo..hi` (`lo <= hi <= 8`).
///
/// # Safety
/// AVX (caller).
#[inline(always)]
unsafe fn mask_32(lo: usize, hi: usize) -> __m256i {
    // SAFETY: AVX (caller).
    unsafe { _mm256_castps_si256(_mm256_andnot_ps(prefix_32(lo), prefix_32(hi))) }
}

/// The `maskload`/`maskstore` mask of f64 lanes `lo..hi` (`lo <= hi <= 4`).
///
/// # Safety
/// AVX (caller).
#[inline(always)]
unsafe fn mask_64(lo: usize, hi: usize) -> __m256i {
    // SAFETY: AVX (caller).
    unsafe { _mm256_castpd_si256(_mm256_andnot_pd(prefix_64(lo), prefix_64(hi))) }
}

impl Vector for __m256 {
    type Elem = f32;
    const WIDTH: usize = 8;
    const ALIGN: usize = 32;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn load(ptr: *const f32) -> Self {
        // SAFETY: AVX; `ptr` valid for 8 reads (caller); any alignment.
        unsafe { _mm256_loadu_ps(ptr) }
    }
    #[inline(always)]
    unsafe fn load_range(ptr: *const f32, lo: usize, hi: usize) -> Self {
        // SAFETY: AVX; maskload does not touch (or fault on) masked-off
        // lanes, and lanes lo..hi are readable (caller).
        unsafe { _mm256_maskload_ps(ptr, mask_32(lo, hi)) }
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut f32) {
        // SAFETY: AVX; `ptr` valid for 8 writes (caller); any alignment.
        unsafe { _mm256_storeu_ps(ptr, self) }
    }
    #[inline(always)]
    unsafe fn store_range(self, ptr: *mut f32, lo: usize, hi: usize) {
        // SAFETY: AVX; maskstore does not touch masked-off lanes, and lanes
        // lo..hi are writable (caller).
        unsafe { _mm256_maskstore_ps(ptr, mask_32(lo, hi), self) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self) }
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_mul_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_add_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn sub(self, rhs: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_sub_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        // SAFETY: FMA, which this tier requires with AVX (caller); one
        // rounding.
        unsafe { _mm256_fmadd_ps(self, a, b) }
    }
    #[inline(always)]
    unsafe fn sign(self) -> Self {
        // SAFETY: AVX (caller).
        unsafe {
            let signed_one = _mm256_or_ps(
                _mm256_set1_ps(1.0),
                _mm256_and_ps(self, _mm256_set1_ps(-0.0)),
            );
            let nonzero = _mm256_cmp_ps::<_CMP_NEQ_OQ>(self, _mm256_setzero_ps());
            let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(self, self);
            _mm256_blendv_ps(_mm256_and_ps(signed_one, nonzero), self, nan)
        }
    }
    #[inline(always)]
    unsafe fn copysign(self, sign: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe {
            let sign_bit = _mm256_set1_ps(-0.0);
            _mm256_or_ps(
                _mm256_andnot_ps(sign_bit, self),
                _mm256_and_ps(sign, sign_bit),
            )
        }
    }
    #[inline(always)]
    unsafe fn where_positive(self, value: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe {
            _mm256_and_ps(
                _mm256_cmp_ps::<_CMP_NLE_UQ>(self, _mm256_setzero_ps()),
                value,
            )
        }
    }
    #[inline(always)]
    unsafe fn zero_mask(self) -> u32 {
        // SAFETY: AVX (caller).
        unsafe { _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(self, _mm256_setzero_ps())) as u32 }
    }
    #[inline(always)]
    unsafe fn to_f64(self, out: &mut [f64]) {
        debug_assert!(out.len() >= 8);
        // SAFETY: AVX; `out` holds at least 8 values (caller).
        unsafe {
            let low = _mm256_cvtps_pd(_mm256_castps256_ps128(self));
            let high = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(self));
            _mm256_storeu_pd(out.as_mut_ptr(), low);
            _mm256_storeu_pd(out.as_mut_ptr().add(4), high);
        }
    }
}

impl Vector for __m256d {
    type Elem = f64;
    const WIDTH: usize = 4;
    const ALIGN: usize = 32;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_set1_pd(v) }
    }
    #[inline(always)]
    unsafe fn load(ptr: *const f64) -> Self {
        // SAFETY: AVX; `ptr` valid for 4 reads (caller); any alignment.
        unsafe { _mm256_loadu_pd(ptr) }
    }
    #[inline(always)]
    unsafe fn load_range(ptr: *const f64, lo: usize, hi: usize) -> Self {
        // SAFETY: AVX; maskload does not touch (or fault on) masked-off
        // lanes, and lanes lo..hi are readable (caller).
        unsafe { _mm256_maskload_pd(ptr, mask_64(lo, hi)) }
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut f64) {
        // SAFETY: AVX; `ptr` valid for 4 writes (caller); any alignment.
        unsafe { _mm256_storeu_pd(ptr, self) }
    }
    #[inline(always)]
    unsafe fn store_range(self, ptr: *mut f64, lo: usize, hi: usize) {
        // SAFETY: AVX; maskstore does not touch masked-off lanes, and lanes
        // lo..hi are writable (caller).
        unsafe { _mm256_maskstore_pd(ptr, mask_64(lo, hi), self) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_andnot_pd(_mm256_set1_pd(-0.0), self) }
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_mul_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_add_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn sub(self, rhs: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe { _mm256_sub_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        // SAFETY: FMA, which this tier requires with AVX (caller); one
        // rounding.
        unsafe { _mm256_fmadd_pd(self, a, b) }
    }
    #[inline(always)]
    unsafe fn sign(self) -> Self {
        // SAFETY: AVX (caller).
        unsafe {
            let signed_one = _mm256_or_pd(
                _mm256_set1_pd(1.0),
                _mm256_and_pd(self, _mm256_set1_pd(-0.0)),
            );
            let nonzero = _mm256_cmp_pd::<_CMP_NEQ_OQ>(self, _mm256_setzero_pd());
            let nan = _mm256_cmp_pd::<_CMP_UNORD_Q>(self, self);
            _mm256_blendv_pd(_mm256_and_pd(signed_one, nonzero), self, nan)
        }
    }
    #[inline(always)]
    unsafe fn copysign(self, sign: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe {
            let sign_bit = _mm256_set1_pd(-0.0);
            _mm256_or_pd(
                _mm256_andnot_pd(sign_bit, self),
                _mm256_and_pd(sign, sign_bit),
            )
        }
    }
    #[inline(always)]
    unsafe fn where_positive(self, value: Self) -> Self {
        // SAFETY: AVX (caller).
        unsafe {
            _mm256_and_pd(
                _mm256_cmp_pd::<_CMP_NLE_UQ>(self, _mm256_setzero_pd()),
                value,
            )
        }
    }
    #[inline(always)]
    unsafe fn zero_mask(self) -> u32 {
        // SAFETY: AVX (caller).
        unsafe { _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(self, _mm256_setzero_pd())) as u32 }
    }
    #[inline(always)]
    unsafe fn to_f64(self, out: &mut [f64]) {
        debug_assert!(out.len() >= 4);
        // SAFETY: AVX; `out` holds at least 4 values (caller).
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), self) }
    }
}
