//! [`Vector`] for the 512-bit AVX-512F registers `__m512` (16 × f32) and
//! `__m512d` (8 × f64).
//!
//! Every method runs AVX-512F instructions: callers guarantee the CPU has
//! AVX-512F (the trait's contract), and the methods are only executed
//! inlined into the `#[target_feature(enable = "avx512f")]` entry point.
//! Only AVX-512F is used (bitwise float logic goes through the integer
//! forms, which F has), so every AVX-512 CPU runs this tier.

use core::arch::x86_64::*;

use crate::kernels::lanes::Vector;
#[cfg(feature = "half")]
use crate::kernels::widened::HalfIo;

/// [`sign`](crate::kernels::lanes::sign) as one `vfixupimm` instruction:
/// it sorts each lane into one of eight classes and replaces it by the
/// token this table gives for its class (nibble `j` for class `j`):
///
/// | class | QNaN | SNaN | ±0 | +1 | −∞ | +∞ | < 0 | > 0 |
/// |---|---|---|---|---|---|---|---|---|
/// | token | 1: itself | 1: itself | 8: +0 | A: +1 | 9: −1 | A: +1 | 9: −1 | A: +1 |
///
/// (Subnormals count as negative or positive: the tier never sets DAZ.)
/// One instruction instead of five (two compares, and, or, a masked move).
/// No token keeps the destination's lane (token 0), so the destination is
/// the input itself: where nothing but `|w|` reads the input after (the L1
/// gradient's row loop), the compiler takes `|w|` first and overwrites the
/// input in place, one instruction per register fewer than zeroing a
/// destination (docs/kernels.md, "The AVX-512 sign").
const SIGN_TABLE: i32 = 0xA9A9_A811_u32 as i32;

/// Bitwise `a & b` on f32 lanes.
#[inline(always)]
unsafe fn and_ps(a: __m512, b: __m512) -> __m512 {
    // SAFETY: AVX-512F (caller).
    unsafe {
        _mm512_castsi512_ps(_mm512_and_si512(
            _mm512_castps_si512(a),
            _mm512_castps_si512(b),
        ))
    }
}

/// Bitwise `a | b` on f32 lanes.
#[inline(always)]
unsafe fn or_ps(a: __m512, b: __m512) -> __m512 {
    // SAFETY: AVX-512F (caller).
    unsafe {
        _mm512_castsi512_ps(_mm512_or_si512(
            _mm512_castps_si512(a),
            _mm512_castps_si512(b),
        ))
    }
}

/// Bitwise `a & b` on f64 lanes.
#[inline(always)]
unsafe fn and_pd(a: __m512d, b: __m512d) -> __m512d {
    // SAFETY: AVX-512F (caller).
    unsafe {
        _mm512_castsi512_pd(_mm512_and_si512(
            _mm512_castpd_si512(a),
            _mm512_castpd_si512(b),
        ))
    }
}

/// Bitwise `a | b` on f64 lanes.
#[inline(always)]
unsafe fn or_pd(a: __m512d, b: __m512d) -> __m512d {
    // SAFETY: AVX-512F (caller).
    unsafe {
        _mm512_castsi512_pd(_mm512_or_si512(
            _mm512_castpd_si512(a),
            _mm512_castpd_si512(b),
        ))
    }
}

impl Vector for __m512 {
    type Elem = f32;
    type Wide = __m512d;
    const WIDTH: usize = 16;
    const ALIGN: usize = 64;
    const REGISTERS: usize = 32;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn load(ptr: *const f32) -> Self {
        // SAFETY: AVX-512F; `ptr` valid for 16 reads (caller); any alignment.
        unsafe { _mm512_loadu_ps(ptr) }
    }
    #[inline(always)]
    unsafe fn load_masked(ptr: *const f32, mask: u32) -> Self {
        // SAFETY: AVX-512F; a masked load does not touch (or fault on) the
        // masked-off lanes, and the lanes selected are readable (caller).
        unsafe { _mm512_maskz_loadu_ps(mask as __mmask16, ptr) }
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut f32) {
        // SAFETY: AVX-512F; `ptr` valid for 16 writes (caller); any alignment.
        unsafe { _mm512_storeu_ps(ptr, self) }
    }
    #[inline(always)]
    unsafe fn store_masked(self, ptr: *mut f32, mask: u32) {
        // SAFETY: AVX-512F; a masked store does not touch the masked-off
        // lanes, and the lanes selected are writable (caller).
        unsafe { _mm512_mask_storeu_ps(ptr, mask as __mmask16, self) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_abs_ps(self) }
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_mul_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_add_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn sub(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_sub_ps(self, rhs) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512F, whose fused multiply-add is one rounding (caller).
        unsafe { _mm512_fmadd_ps(self, a, b) }
    }
    #[inline(always)]
    unsafe fn sign(self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_fixupimm_ps::<0>(self, self, _mm512_set1_epi32(SIGN_TABLE)) }
    }
    #[inline(always)]
    unsafe fn copysign(self, sign: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { or_ps(_mm512_abs_ps(self), and_ps(sign, _mm512_set1_ps(-0.0))) }
    }
    #[inline(always)]
    unsafe fn where_positive(self, value: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe {
            let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(self, _mm512_setzero_ps());
            _mm512_maskz_mov_ps(keep, value)
        }
    }
    #[inline(always)]
    unsafe fn zero_mask(self) -> u32 {
        // SAFETY: AVX-512F (caller).
        unsafe { u32::from(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(self, _mm512_setzero_ps())) }
    }
    #[inline(always)]
    unsafe fn widen(self, out: &mut [__m512d]) {
        // SAFETY: AVX-512F (caller).
        unsafe {
            out[0] = _mm512_cvtps_pd(_mm512_castps512_ps256(self));
            let high = _mm512_extractf64x4_pd::<1>(_mm512_castps_pd(self));
            out[1] = _mm512_cvtps_pd(_mm256_castpd_ps(high));
        }
    }
}

impl Vector for __m512d {
    type Elem = f64;
    type Wide = __m512d;
    const WIDTH: usize = 8;
    const ALIGN: usize = 64;
    const REGISTERS: usize = 32;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_set1_pd(v) }
    }
    #[inline(always)]
    unsafe fn load(ptr: *const f64) -> Self {
        // SAFETY: AVX-512F; `ptr` valid for 8 reads (caller); any alignment.
        unsafe { _mm512_loadu_pd(ptr) }
    }
    #[inline(always)]
    unsafe fn load_masked(ptr: *const f64, mask: u32) -> Self {
        // SAFETY: AVX-512F; a masked load does not touch (or fault on) the
        // masked-off lanes, and the lanes selected are readable (caller).
        unsafe { _mm512_maskz_loadu_pd(mask as __mmask8, ptr) }
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut f64) {
        // SAFETY: AVX-512F; `ptr` valid for 8 writes (caller); any alignment.
        unsafe { _mm512_storeu_pd(ptr, self) }
    }
    #[inline(always)]
    unsafe fn store_masked(self, ptr: *mut f64, mask: u32) {
        // SAFETY: AVX-512F; a masked store does not touch the masked-off
        // lanes, and the lanes selected are writable (caller).
        unsafe { _mm512_mask_storeu_pd(ptr, mask as __mmask8, self) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_abs_pd(self) }
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_mul_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_add_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn sub(self, rhs: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_sub_pd(self, rhs) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512F, whose fused multiply-add is one rounding (caller).
        unsafe { _mm512_fmadd_pd(self, a, b) }
    }
    #[inline(always)]
    unsafe fn sign(self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { _mm512_fixupimm_pd::<0>(self, self, _mm512_set1_epi64(SIGN_TABLE as i64)) }
    }
    #[inline(always)]
    unsafe fn copysign(self, sign: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe { or_pd(_mm512_abs_pd(self), and_pd(sign, _mm512_set1_pd(-0.0))) }
    }
    #[inline(always)]
    unsafe fn where_positive(self, value: Self) -> Self {
        // SAFETY: AVX-512F (caller).
        unsafe {
            let keep = _mm512_cmp_pd_mask::<_CMP_NLE_UQ>(self, _mm512_setzero_pd());
            _mm512_maskz_mov_pd(keep, value)
        }
    }
    #[inline(always)]
    unsafe fn zero_mask(self) -> u32 {
        // SAFETY: AVX-512F (caller).
        unsafe { u32::from(_mm512_cmp_pd_mask::<_CMP_EQ_OQ>(self, _mm512_setzero_pd())) }
    }
    #[inline(always)]
    unsafe fn widen(self, out: &mut [__m512d]) {
        out[0] = self;
    }
    #[inline(always)]
    unsafe fn fold_lanes(self) -> f64 {
        // SAFETY: AVX-512F (caller).
        unsafe {
            // The tree's levels: lane i + lane i + 4, then + 2, then + 1.
            let four = _mm512_extractf64x4_pd::<1>(self);
            super::avx::fold_four(_mm256_add_pd(_mm512_castpd512_pd256(self), four))
        }
    }
}

/// `bf16` in `__m512`: widening is a 16-bit shift (exact); narrowing rounds
/// to nearest, ties to even, in integer arithmetic (AVX-512 BF16's
/// `vcvtneps2bf16` would flush subnormals), and NaN becomes a quiet NaN.
#[cfg(feature = "half")]
impl HalfIo<half::bf16> for __m512 {
    #[inline(always)]
    unsafe fn load_half(ptr: *const half::bf16) -> Self {
        // SAFETY: AVX-512F (caller); `ptr` valid for 16 reads of 2 bytes
        // (caller); unaligned load.
        unsafe {
            let h = _mm256_loadu_si256(ptr.cast());
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
        }
    }
    #[inline(always)]
    unsafe fn store_half(self, ptr: *mut half::bf16) {
        // SAFETY: AVX-512F (caller); `ptr` valid for 16 writes of 2 bytes
        // (caller); unaligned store.
        unsafe {
            let bits = _mm512_castps_si512(self);
            let high = _mm512_srli_epi32::<16>(bits);
            let lsb = _mm512_and_si512(high, _mm512_set1_epi32(1));
            let bias = _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff));
            let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(bits, bias));
            let quiet = _mm512_or_si512(high, _mm512_set1_epi32(0x40));
            let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(self, self);
            let halves = _mm512_mask_mov_epi32(rounded, nan, quiet);
            _mm256_storeu_si256(ptr.cast(), _mm512_cvtepi32_epi16(halves));
        }
    }
}

/// `f16` in `__m512`: AVX-512F's conversions, exact one way and rounding to
/// nearest even the other, subnormals included.
#[cfg(feature = "half")]
impl HalfIo<half::f16> for __m512 {
    #[inline(always)]
    unsafe fn load_half(ptr: *const half::f16) -> Self {
        // SAFETY: AVX-512F (caller); `ptr` valid for 16 reads of 2 bytes
        // (caller).
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(ptr.cast())) }
    }
    #[inline(always)]
    unsafe fn store_half(self, ptr: *mut half::f16) {
        // SAFETY: AVX-512F (caller); `ptr` valid for 16 writes of 2 bytes
        // (caller).
        unsafe {
            let h = _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(self);
            _mm256_storeu_si256(ptr.cast(), h);
        }
    }
}
