//! Speed-of-light kernels: what this machine can read and reduce, ignoring
//! accuracy and order. regnorm is reported as a fraction of them.
//!
//! * One thread: eight independent accumulators per sum (fused multiply-adds
//!   for the squares) on AVX2+FMA or AVX-512, whichever is faster here.
//! * Two threads: the caller reduces the first half while a second thread,
//!   spinning between calls as OpenBLAS's threads do, reduces the other.
//!   It spins only while a [`SpinPair`] is alive.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// What a ceiling reduces: Σ|x|, Σx², or both in one pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Abs,
    Sq,
    Both,
}

/// An element type the ceilings reduce.
pub trait CeilingFloat: Copy + Send + Sync + 'static {
    /// The reduction with eight accumulators on `tier` (`Some(true)`:
    /// AVX-512, `Some(false)`: AVX2+FMA), or `None` if the CPU lacks it.
    fn reduce(x: &[Self], op: Op, avx512: bool) -> Option<f64>;
    /// The fused penalty and gradient on `tier`: Σ|w| while adding
    /// `copysign(c, w)` to `g` (`Op::Abs`), or Σw² while adding `c·w`
    /// (`Op::Sq`); `None` if the CPU lacks the tier. `g` is as long as `w`.
    fn gradient(w: &[Self], g: &mut [Self], c: f64, op: Op, avx512: bool) -> Option<f64>;
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    macro_rules! eight_accumulators {
        ($name:ident, $feat:literal, $t:ty, $v:ty, $w:literal, $zero:ident, $load:ident,
         $mload:ident, $add:ident, $fma:ident, $abs:expr, $hsum:expr) => {
            /// # Safety
            /// The CPU must have the target features.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name(x: &[$t], op: super::Op) -> f64 {
                let (abs, sq) = (op != super::Op::Sq, op != super::Op::Abs);
                let mut acc: [$v; 8] = [$zero(); 8];
                let mut acc_sq: [$v; 8] = [$zero(); 8];
                let rows = x.len() / (8 * $w);
                let p = x.as_ptr();
                for r in 0..rows {
                    for j in 0..8 {
                        // SAFETY: r * 8w + (j + 1) * w <= rows * 8w <= len.
                        let v = unsafe { $load(p.add(r * 8 * $w + j * $w)) };
                        if abs {
                            acc[j] = $add(acc[j], $abs(v));
                        }
                        if sq {
                            acc_sq[j] = $fma(v, v, acc_sq[j]);
                        }
                    }
                }
                // The tail: whole vectors, then one masked vector, so that
                // short inputs are not dominated by a scalar loop.
                let mut i = rows * 8 * $w;
                let mut j = 0;
                while i < x.len() {
                    let n = (x.len() - i).min($w);
                    // SAFETY: lanes 0..n of p + i are inside the slice.
                    let v = unsafe { $mload(p.add(i), n) };
                    if abs {
                        acc[j] = $add(acc[j], $abs(v));
                    }
                    if sq {
                        acc_sq[j] = $fma(v, v, acc_sq[j]);
                    }
                    (i, j) = (i + n, (j + 1) % 8);
                }
                let mut t = $zero();
                for (a, s) in acc.into_iter().zip(acc_sq) {
                    t = $add(t, $add(a, s));
                }
                $hsum(t)
            }
        };
    }

    /// The fused penalty and gradient with eight accumulators: Σ|w| while
    /// adding `copysign(c, w)` to `g` (`Op::Abs`; `w = 0` is not special
    /// here), or Σw² while adding `c·w` (`Op::Sq`), with the same tail
    /// handling as above.
    macro_rules! eight_accumulators_gradient {
        ($name:ident, $feat:literal, $t:ty, $v:ty, $w:literal, $zero:ident, $set1:ident,
         $load:ident, $mload:ident, $store:ident, $mstore:ident, $add:ident, $fma:ident,
         $abs:expr, $copysign:expr, $hsum:expr) => {
            /// # Safety
            /// The CPU must have the target features; `g.len() >= w.len()`.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name(w: &[$t], g: &mut [$t], c: $t, op: super::Op) -> f64 {
                let abs = op == super::Op::Abs;
                let cv = $set1(c);
                let mut acc: [$v; 8] = [$zero(); 8];
                let (pw, pg) = (w.as_ptr(), g.as_mut_ptr());
                let mut i = 0;
                while i + 8 * $w <= w.len() {
                    for a in acc.iter_mut() {
                        // SAFETY: i + w <= len, for w and g (caller).
                        unsafe {
                            let v = $load(pw.add(i));
                            let gv = $load(pg.add(i));
                            if abs {
                                *a = $add(*a, $abs(v));
                                $store(pg.add(i), $add(gv, $copysign(cv, v)));
                            } else {
                                *a = $fma(v, v, *a);
                                $store(pg.add(i), $fma(cv, v, gv));
                            }
                        }
                        i += $w;
                    }
                }
                let mut j = 0;
                while i < w.len() {
                    let n = (w.len() - i).min($w);
                    // SAFETY: lanes 0..n of w and g from i are inside them.
                    unsafe {
                        let v = $mload(pw.add(i), n);
                        let gv = $mload(pg.add(i), n);
                        if abs {
                            acc[j] = $add(acc[j], $abs(v));
                            $mstore(pg.add(i), n, $add(gv, $copysign(cv, v)));
                        } else {
                            acc[j] = $fma(v, v, acc[j]);
                            $mstore(pg.add(i), n, $fma(cv, v, gv));
                        }
                    }
                    (i, j) = (i + n, (j + 1) % 8);
                }
                let mut t = $zero();
                for a in acc {
                    t = $add(t, a);
                }
                $hsum(t)
            }
        };
    }

    /// Lanes `0..n` of `v` to `p` (AVX2 masked store).
    #[inline(always)]
    unsafe fn mstore_ps256(p: *mut f32, n: usize, v: __m256) {
        // SAFETY: AVX2 (callers); maskstore writes only the lanes 0..n.
        unsafe {
            let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), idx), v)
        }
    }
    #[inline(always)]
    unsafe fn mstore_pd256(p: *mut f64, n: usize, v: __m256d) {
        // SAFETY: as above.
        unsafe {
            let idx = _mm256_setr_epi64x(0, 1, 2, 3);
            _mm256_maskstore_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), idx), v)
        }
    }
    #[inline(always)]
    unsafe fn mstore_ps512(p: *mut f32, n: usize, v: __m512) {
        // SAFETY: AVX-512F (callers); masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as u16, v) }
    }
    #[inline(always)]
    unsafe fn mstore_pd512(p: *mut f64, n: usize, v: __m512d) {
        // SAFETY: AVX-512F (callers); masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_pd(p, ((1u32 << n) - 1) as u8, v) }
    }
    /// `c` (non-negative) with the sign of `v`.
    #[inline(always)]
    fn copysign_ps256(c: __m256, v: __m256) -> __m256 {
        // SAFETY: AVX2 is enabled in every caller (inlined).
        unsafe { _mm256_or_ps(c, _mm256_and_ps(v, _mm256_set1_ps(-0.0))) }
    }
    #[inline(always)]
    fn copysign_pd256(c: __m256d, v: __m256d) -> __m256d {
        // SAFETY: as above.
        unsafe { _mm256_or_pd(c, _mm256_and_pd(v, _mm256_set1_pd(-0.0))) }
    }
    #[inline(always)]
    fn copysign_ps512(c: __m512, v: __m512) -> __m512 {
        // SAFETY: AVX-512F is enabled in every caller (inlined).
        unsafe {
            let sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(i32::MIN));
            _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(c), sign))
        }
    }
    #[inline(always)]
    fn copysign_pd512(c: __m512d, v: __m512d) -> __m512d {
        // SAFETY: as above.
        unsafe {
            let sign = _mm512_and_si512(_mm512_castpd_si512(v), _mm512_set1_epi64(i64::MIN));
            _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(c), sign))
        }
    }

    /// Lanes `0..n` from `p`, zeros in the others (AVX2 masked load).
    #[inline(always)]
    unsafe fn mload_ps256(p: *const f32, n: usize) -> __m256 {
        // SAFETY: AVX2 (callers); maskload reads only the lanes 0..n.
        unsafe {
            let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), idx))
        }
    }
    #[inline(always)]
    unsafe fn mload_pd256(p: *const f64, n: usize) -> __m256d {
        // SAFETY: as above.
        unsafe {
            let idx = _mm256_setr_epi64x(0, 1, 2, 3);
            _mm256_maskload_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), idx))
        }
    }
    #[inline(always)]
    unsafe fn mload_ps512(p: *const f32, n: usize) -> __m512 {
        // SAFETY: AVX-512F (callers); masked-off lanes are not read.
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as u16, p) }
    }
    #[inline(always)]
    unsafe fn mload_pd512(p: *const f64, n: usize) -> __m512d {
        // SAFETY: AVX-512F (callers); masked-off lanes are not read.
        unsafe { _mm512_maskz_loadu_pd(((1u32 << n) - 1) as u8, p) }
    }

    #[inline(always)]
    fn abs_ps256(v: __m256) -> __m256 {
        // SAFETY: AVX2 is enabled in every caller (inlined).
        unsafe { _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff))) }
    }
    #[inline(always)]
    fn abs_pd256(v: __m256d) -> __m256d {
        // SAFETY: as above.
        unsafe { _mm256_and_pd(v, _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX))) }
    }
    #[inline(always)]
    fn hsum_ps256(v: __m256) -> f64 {
        let mut l = [0f32; 8];
        // SAFETY: AVX; `l` holds 8 values.
        unsafe { _mm256_storeu_ps(l.as_mut_ptr(), v) };
        l.iter().map(|&v| f64::from(v)).sum()
    }
    #[inline(always)]
    fn hsum_pd256(v: __m256d) -> f64 {
        let mut l = [0f64; 4];
        // SAFETY: AVX; `l` holds 4 values.
        unsafe { _mm256_storeu_pd(l.as_mut_ptr(), v) };
        l.iter().sum()
    }
    #[inline(always)]
    fn hsum_ps512(v: __m512) -> f64 {
        let mut l = [0f32; 16];
        // SAFETY: AVX-512F; `l` holds 16 values.
        unsafe { _mm512_storeu_ps(l.as_mut_ptr(), v) };
        l.iter().map(|&v| f64::from(v)).sum()
    }
    #[inline(always)]
    fn hsum_pd512(v: __m512d) -> f64 {
        let mut l = [0f64; 8];
        // SAFETY: AVX-512F; `l` holds 8 values.
        unsafe { _mm512_storeu_pd(l.as_mut_ptr(), v) };
        l.iter().sum()
    }

    eight_accumulators!(
        f32_avx2,
        "avx2,fma",
        f32,
        __m256,
        8,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        mload_ps256,
        _mm256_add_ps,
        _mm256_fmadd_ps,
        abs_ps256,
        hsum_ps256
    );
    eight_accumulators!(
        f64_avx2,
        "avx2,fma",
        f64,
        __m256d,
        4,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        mload_pd256,
        _mm256_add_pd,
        _mm256_fmadd_pd,
        abs_pd256,
        hsum_pd256
    );
    eight_accumulators!(
        f32_avx512,
        "avx512f",
        f32,
        __m512,
        16,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        mload_ps512,
        _mm512_add_ps,
        _mm512_fmadd_ps,
        _mm512_abs_ps,
        hsum_ps512
    );
    eight_accumulators!(
        f64_avx512,
        "avx512f",
        f64,
        __m512d,
        8,
        _mm512_setzero_pd,
        _mm512_loadu_pd,
        mload_pd512,
        _mm512_add_pd,
        _mm512_fmadd_pd,
        _mm512_abs_pd,
        hsum_pd512
    );
    eight_accumulators_gradient!(
        f32_avx2_gradient,
        "avx2,fma",
        f32,
        __m256,
        8,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        mload_ps256,
        _mm256_storeu_ps,
        mstore_ps256,
        _mm256_add_ps,
        _mm256_fmadd_ps,
        abs_ps256,
        copysign_ps256,
        hsum_ps256
    );
    eight_accumulators_gradient!(
        f64_avx2_gradient,
        "avx2,fma",
        f64,
        __m256d,
        4,
        _mm256_setzero_pd,
        _mm256_set1_pd,
        _mm256_loadu_pd,
        mload_pd256,
        _mm256_storeu_pd,
        mstore_pd256,
        _mm256_add_pd,
        _mm256_fmadd_pd,
        abs_pd256,
        copysign_pd256,
        hsum_pd256
    );
    eight_accumulators_gradient!(
        f32_avx512_gradient,
        "avx512f",
        f32,
        __m512,
        16,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_loadu_ps,
        mload_ps512,
        _mm512_storeu_ps,
        mstore_ps512,
        _mm512_add_ps,
        _mm512_fmadd_ps,
        _mm512_abs_ps,
        copysign_ps512,
        hsum_ps512
    );
    eight_accumulators_gradient!(
        f64_avx512_gradient,
        "avx512f",
        f64,
        __m512d,
        8,
        _mm512_setzero_pd,
        _mm512_set1_pd,
        _mm512_loadu_pd,
        mload_pd512,
        _mm512_storeu_pd,
        mstore_pd512,
        _mm512_add_pd,
        _mm512_fmadd_pd,
        _mm512_abs_pd,
        copysign_pd512,
        hsum_pd512
    );
}

fn has(avx512: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if avx512 {
            std::arch::is_x86_feature_detected!("avx512f")
        } else {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = avx512;
        false
    }
}

/// `CeilingFloat` for `$t` from its four kernels in `x86`.
macro_rules! ceiling_float {
    ($t:ty, $avx512:ident, $avx2:ident, $avx512_gradient:ident, $avx2_gradient:ident) => {
        impl CeilingFloat for $t {
            fn reduce(x: &[$t], op: Op, avx512: bool) -> Option<f64> {
                if !has(avx512) {
                    return None;
                }
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the CPU has the features, checked just above.
                unsafe {
                    Some(if avx512 {
                        x86::$avx512(x, op)
                    } else {
                        x86::$avx2(x, op)
                    })
                }
                #[cfg(not(target_arch = "x86_64"))]
                None
            }

            fn gradient(w: &[$t], g: &mut [$t], c: f64, op: Op, avx512: bool) -> Option<f64> {
                assert!(op != Op::Both && g.len() >= w.len());
                if !has(avx512) {
                    return None;
                }
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the CPU has the features, checked just above; g is
                // as long as w.
                unsafe {
                    Some(if avx512 {
                        x86::$avx512_gradient(w, g, c as $t, op)
                    } else {
                        x86::$avx2_gradient(w, g, c as $t, op)
                    })
                }
                #[cfg(not(target_arch = "x86_64"))]
                None
            }
        }
    };
}

ceiling_float!(
    f32,
    f32_avx512,
    f32_avx2,
    f32_avx512_gradient,
    f32_avx2_gradient
);
ceiling_float!(
    f64,
    f64_avx512,
    f64_avx2,
    f64_avx512_gradient,
    f64_avx2_gradient
);

/// The tiers of the one-thread ceiling this CPU has: `false` AVX2+FMA,
/// `true` AVX-512.
pub fn ceiling_tiers() -> Vec<bool> {
    [false, true].into_iter().filter(|&t| has(t)).collect()
}

/// The two-thread ceiling: a second thread spins waiting for work.
pub struct SpinPair {
    shared: Arc<Shared>,
    generation: u64,
    handle: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    go: AtomicU64,
    done: AtomicU64,
    ptr: AtomicUsize,
    len: AtomicUsize,
    result: AtomicU64,
    stop: AtomicBool,
}

impl SpinPair {
    /// Starts the spinning worker for element type `T`.
    pub fn new<T: CeilingFloat>(op: Op, avx512: bool) -> SpinPair {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let handle = std::thread::spawn(move || {
            let mut seen = 0;
            while !s.stop.load(Ordering::Acquire) {
                let g = s.go.load(Ordering::Acquire);
                if g == seen {
                    std::hint::spin_loop();
                    continue;
                }
                seen = g;
                let (p, n) = (s.ptr.load(Ordering::Relaxed), s.len.load(Ordering::Relaxed));
                // SAFETY: `run` published a live slice and waits for `done`.
                let x = unsafe { std::slice::from_raw_parts(p as *const T, n) };
                let r = T::reduce(x, op, avx512).unwrap_or(0.0);
                s.result.store(r.to_bits(), Ordering::Relaxed);
                s.done.store(g, Ordering::Release);
            }
        });
        SpinPair {
            shared,
            generation: 0,
            handle: Some(handle),
        }
    }

    /// Reduces `x`: the first half here, the second on the spinning thread.
    pub fn run<T: CeilingFloat>(&mut self, x: &[T], op: Op, avx512: bool) -> f64 {
        let (a, b) = x.split_at((x.len() / 2) & !127);
        let s = &self.shared;
        s.ptr.store(b.as_ptr() as usize, Ordering::Relaxed);
        s.len.store(b.len(), Ordering::Relaxed);
        self.generation += 1;
        s.go.store(self.generation, Ordering::Release);
        let ra = T::reduce(a, op, avx512).unwrap_or(0.0);
        while s.done.load(Ordering::Acquire) != self.generation {
            std::hint::spin_loop();
        }
        ra + f64::from_bits(s.result.load(Ordering::Relaxed))
    }
}

impl Drop for SpinPair {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
