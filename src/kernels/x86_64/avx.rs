//! [`Vector`] for the 256-bit AVX registers `__m256` (8 × f32) and
//! `__m256d` (4 × f64).
//!
//! Every method runs AVX instructions: callers guarantee the CPU has AVX
//! (the trait's contract), and the methods are only executed inlined into
//! the `#[target_feature(enable = "avx")]` entry point.

use core::arch::x86_64::*;

use crate::kernels::lanes::Vector;

/// Eight all-ones lanes, then eight zero lanes: the eight 32-bit lanes
/// starting at `8 - len` are a mask selecting the first `len` lanes.
static MASK_32: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
/// As [`MASK_32`], for four 64-bit lanes.
static MASK_64: [i64; 8] = [-1, -1, -1, -1, 0, 0, 0, 0];

/// The `maskload`/`maskstore` mask selecting the first `len < 8` f32 lanes.
///
/// # Safety
/// AVX; `len < 8`, so the window lies inside [`MASK_32`].
#[inline(always)]
unsafe fn mask_32(len: usize) -> __m256i {
    // SAFETY: 8 - len is in 1..=8, so the 8 lanes read lie inside MASK_32.
    unsafe { _mm256_loadu_si256(MASK_32.as_ptr().add(8 - len).cast()) }
}

/// The `maskload`/`maskstore` mask selecting the first `len < 4` f64 lanes.
///
/// # Safety
/// AVX; `len < 4`, so the window lies inside [`MASK_64`].
#[inline(always)]
unsafe fn mask_64(len: usize) -> __m256i {
    // SAFETY: 4 - len is in 1..=4, so the 4 lanes read lie inside MASK_64.
    unsafe { _mm256_loadu_si256(MASK_64.as_ptr().add(4 - len).cast()) }
}

impl Vector for __m256 {
    type Elem = f32;
    const WIDTH: usize = 8;

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
    unsafe fn load_partial(ptr: *const f32, len: usize) -> Self {
        // SAFETY: AVX; maskload does not touch (or fault on) masked-off
        // lanes, and the `len` selected ones are valid to read (caller).
        unsafe { _mm256_maskload_ps(ptr, mask_32(len)) }
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut f32) {
        // SAFETY: AVX; `ptr` valid for 8 writes (caller); any alignment.
        unsafe { _mm256_storeu_ps(ptr, self) }
    }
    #[inline(always)]
    unsafe fn store_partial(self, ptr: *mut f32, len: usize) {
        // SAFETY: AVX; maskstore does not touch masked-off lanes, and the
        // `len` selected ones are valid to write (caller).
        unsafe { _mm256_maskstore_ps(ptr, mask_32(len), self) }
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
    unsafe fn count_zeros(self) -> u32 {
        // SAFETY: AVX (caller).
        unsafe {
            _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(self, _mm256_setzero_ps())).count_ones()
        }
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
    unsafe fn load_partial(ptr: *const f64, len: usize) -> Self {
        // SAFETY: AVX; maskload does not touch (or fault on) masked-off
        // lanes, and the `len` selected ones are valid to read (caller).
        unsafe { _mm256_maskload_pd(ptr, mask_64(len)) }
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut f64) {
        // SAFETY: AVX; `ptr` valid for 4 writes (caller); any alignment.
        unsafe { _mm256_storeu_pd(ptr, self) }
    }
    #[inline(always)]
    unsafe fn store_partial(self, ptr: *mut f64, len: usize) {
        // SAFETY: AVX; maskstore does not touch masked-off lanes, and the
        // `len` selected ones are valid to write (caller).
        unsafe { _mm256_maskstore_pd(ptr, mask_64(len), self) }
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
    unsafe fn count_zeros(self) -> u32 {
        // SAFETY: AVX (caller).
        unsafe {
            _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(self, _mm256_setzero_pd())).count_ones()
        }
    }
    #[inline(always)]
    unsafe fn to_f64(self, out: &mut [f64]) {
        debug_assert!(out.len() >= 4);
        // SAFETY: AVX; `out` holds at least 4 values (caller).
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), self) }
    }
}
