//! [`Vector`] for the 256-bit AVX registers `__m256` (8 × f32) and
//! `__m256d` (4 × f64).
//!
//! Every method runs AVX instructions (FMA for `mul_add`, AVX2 and F16C to
//! widen and narrow half-precision values): callers guarantee the CPU has
//! them (the trait's contract), and the methods are only executed inlined
//! into the `#[target_feature(enable = "avx2,fma,f16c")]` entry point.

use core::arch::x86_64::*;

use crate::kernels::lanes::Vector;
#[cfg(feature = "half")]
use crate::kernels::widened::HalfIo;

/// The `maskload`/`maskstore` mask of the f32 lanes whose bits are set in
/// `mask` (bit `i`: lane `i`).
///
/// # Safety
/// AVX2 (caller).
#[inline(always)]
unsafe fn mask_32(mask: u32) -> __m256i {
    // SAFETY: AVX2 (caller).
    unsafe {
        let bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        let set = _mm256_and_si256(_mm256_set1_epi32(mask as i32), bits);
        _mm256_cmpeq_epi32(set, bits)
    }
}

/// As [`mask_32`], for the four f64 lanes.
///
/// # Safety
/// AVX2 (caller).
#[inline(always)]
unsafe fn mask_64(mask: u32) -> __m256i {
    // SAFETY: AVX2 (caller).
    unsafe {
        let bits = _mm256_setr_epi64x(1, 2, 4, 8);
        let set = _mm256_and_si256(_mm256_set1_epi64x(i64::from(mask)), bits);
        _mm256_cmpeq_epi64(set, bits)
    }
}

impl Vector for __m256 {
    type Elem = f32;
    type Wide = __m256d;
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
    unsafe fn load_masked(ptr: *const f32, mask: u32) -> Self {
        // SAFETY: AVX2; maskload does not touch (or fault on) masked-off
        // lanes, and the lanes selected are readable (caller).
        unsafe { _mm256_maskload_ps(ptr, mask_32(mask)) }
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut f32) {
        // SAFETY: AVX; `ptr` valid for 8 writes (caller); any alignment.
        unsafe { _mm256_storeu_ps(ptr, self) }
    }
    #[inline(always)]
    unsafe fn store_masked(self, ptr: *mut f32, mask: u32) {
        // SAFETY: AVX2; maskstore does not touch masked-off lanes, and the
        // lanes selected are writable (caller).
        unsafe { _mm256_maskstore_ps(ptr, mask_32(mask), self) }
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
    unsafe fn widen(self, out: &mut [__m256d]) {
        // SAFETY: AVX (caller).
        unsafe {
            out[0] = _mm256_cvtps_pd(_mm256_castps256_ps128(self));
            out[1] = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(self));
        }
    }
}

impl Vector for __m256d {
    type Elem = f64;
    type Wide = __m256d;
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
    unsafe fn load_masked(ptr: *const f64, mask: u32) -> Self {
        // SAFETY: AVX2; maskload does not touch (or fault on) masked-off
        // lanes, and the lanes selected are readable (caller).
        unsafe { _mm256_maskload_pd(ptr, mask_64(mask)) }
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut f64) {
        // SAFETY: AVX; `ptr` valid for 4 writes (caller); any alignment.
        unsafe { _mm256_storeu_pd(ptr, self) }
    }
    #[inline(always)]
    unsafe fn store_masked(self, ptr: *mut f64, mask: u32) {
        // SAFETY: AVX2; maskstore does not touch masked-off lanes, and the
        // lanes selected are writable (caller).
        unsafe { _mm256_maskstore_pd(ptr, mask_64(mask), self) }
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
    unsafe fn widen(self, out: &mut [__m256d]) {
        out[0] = self;
    }
    #[inline(always)]
    unsafe fn fold_lanes(self) -> f64 {
        // SAFETY: AVX (caller).
        unsafe { fold_four(self) }
    }
}

/// `bf16` in `__m256`: widening is a 16-bit shift (exact); narrowing rounds
/// to nearest, ties to even, in integer arithmetic (no instruction flushes
/// subnormals), and NaN becomes a quiet NaN.
#[cfg(feature = "half")]
impl HalfIo<half::bf16> for __m256 {
    #[inline(always)]
    unsafe fn load_half(ptr: *const half::bf16) -> Self {
        // SAFETY: AVX2 (the tier's features, caller); `ptr` valid for 8
        // reads of 2 bytes (caller); unaligned load.
        unsafe {
            let h = _mm_loadu_si128(ptr.cast());
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
        }
    }
    #[inline(always)]
    unsafe fn store_half(self, ptr: *mut half::bf16) {
        // SAFETY: AVX2 (caller); `ptr` valid for 8 writes of 2 bytes
        // (caller); unaligned store.
        unsafe {
            let bits = _mm256_castps_si256(self);
            let high = _mm256_srli_epi32::<16>(bits);
            let lsb = _mm256_and_si256(high, _mm256_set1_epi32(1));
            let bias = _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff));
            let rounded = _mm256_srli_epi32::<16>(_mm256_add_epi32(bits, bias));
            let quiet = _mm256_or_si256(high, _mm256_set1_epi32(0x40));
            let nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(self, self));
            let halves = _mm256_blendv_epi8(rounded, quiet, nan);
            // Every lane is below 2^16: the saturating pack keeps it. The
            // pack works per 128-bit half; the permute puts the two
            // results side by side.
            let packed = _mm256_packus_epi32(halves, halves);
            let ordered = _mm256_permute4x64_epi64::<0b00_00_10_00>(packed);
            _mm_storeu_si128(ptr.cast(), _mm256_castsi256_si128(ordered));
        }
    }
}

/// `f16` in `__m256`: F16C's conversions, exact one way and rounding to
/// nearest even the other, subnormals included.
#[cfg(feature = "half")]
impl HalfIo<half::f16> for __m256 {
    #[inline(always)]
    unsafe fn load_half(ptr: *const half::f16) -> Self {
        // SAFETY: F16C (the tier's features, caller); `ptr` valid for 8
        // reads of 2 bytes (caller).
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(ptr.cast())) }
    }
    #[inline(always)]
    unsafe fn store_half(self, ptr: *mut half::f16) {
        // SAFETY: F16C (caller); `ptr` valid for 8 writes of 2 bytes
        // (caller).
        unsafe {
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(self);
            _mm_storeu_si128(ptr.cast(), h);
        }
    }
}

/// The fixed tree over four `f64` lanes: lane i + lane i + 2, then lane 0 +
/// lane 1 ([`fold_tree`](crate::order::fold_tree)'s additions).
///
/// # Safety
/// The CPU must have AVX.
#[inline(always)]
pub(super) unsafe fn fold_four(v: __m256d) -> f64 {
    // SAFETY: AVX (caller).
    unsafe {
        let two = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
        _mm_cvtsd_f64(_mm_add_sd(two, _mm_unpackhi_pd(two, two)))
    }
}
