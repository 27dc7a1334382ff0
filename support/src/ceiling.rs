//! Speed-of-light kernels: what this machine can read and reduce, ignoring
//! accuracy and order. regnorm is reported as a fraction of them.
//!
//! A ceiling is the fastest of a family of unordered kernels ([`Kernel`]),
//! measured on the same input as the row it judges, interleaved with it:
//!
//! * One thread: every instruction set the CPU has (AVX2+FMA, AVX-512) ×
//!   4, 8, 16 or 32 independent accumulators per sum × one or two streams
//!   (the input's halves read side by side) (fused multiply-adds for the squares; the
//!   tail in masked vectors; the accumulators added as a tree in registers),
//!   and four of them with software prefetch.
//!   Callers take the best of [`ceiling_kernels`].
//! * Two threads: the caller reduces the first half while a second thread,
//!   spinning between calls as OpenBLAS's threads do, reduces the other,
//!   each with the same kernel; a model of many tensors is split between
//!   tensors ([`SpinPair::run_tensors`]). The second thread spins only while
//!   a [`SpinPair`] is alive.
//!
//! A row is judged against the faster of the two: the best the machine
//! does with the threads regnorm may use.
//!
//! No kernel here keeps an order or a bound, so none of them is a
//! reduction a user could ship; they say how far regnorm is from what the
//! machine can do at all. A figure above 105 % of its ceiling means the
//! ceiling family is missing a shape, and the fix belongs here.

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

/// One shape of ceiling kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// AVX-512 (else AVX2+FMA).
    pub avx512: bool,
    /// Independent accumulators per sum: 4, 8, 16 or 32 (4 wins on short
    /// inputs, where the final tree costs as much as the loop).
    pub accumulators: usize,
    /// Streams read side by side: 1, or 2 (the input's two halves, one
    /// vector of each per accumulator update, as regnorm reads two blocks).
    pub streams: usize,
    /// Software prefetch 1,024 elements ahead (as regnorm does; helps one
    /// thread stream from L3 and DRAM).
    pub prefetch: bool,
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let isa = if self.avx512 { "avx512" } else { "avx2" };
        let pf = if self.prefetch { "/pf" } else { "" };
        write!(f, "{isa}/{}acc/{}st{pf}", self.accumulators, self.streams)
    }
}

/// The `n` fastest of `kernels`, fastest first, each with its time:
/// `sweeps` measurements of each (`time`: seconds per call, or any measure
/// where lower is faster), taken in interleaved sweeps over all of them,
/// each kernel ranked by its best. One sweep on a shared machine can rank
/// the one kernel that makes a ceiling behind slower ones (a slow spell
/// during its batch), and every round judged against the picked kernels
/// then reads regnorm too close to its ceiling; callers measure the picked
/// ones again.
///
/// ```
/// use regnorm_support::ceiling::{ceiling_kernels, fastest_kernels};
/// let kernels = ceiling_kernels();
/// let picked = fastest_kernels(&kernels, 3, 2, |k| k.accumulators as f64);
/// assert!(picked.len() <= 3 && picked.windows(2).all(|w| w[0].0 <= w[1].0));
/// ```
pub fn fastest_kernels(
    kernels: &[Kernel],
    n: usize,
    sweeps: usize,
    mut time: impl FnMut(Kernel) -> f64,
) -> Vec<(f64, Kernel)> {
    let mut swept: Vec<(f64, Kernel)> = kernels.iter().map(|&k| (f64::INFINITY, k)).collect();
    for _ in 0..sweeps.max(1) {
        for (best, k) in &mut swept {
            *best = best.min(time(*k));
        }
    }
    swept.sort_by(|a, b| a.0.total_cmp(&b.0));
    swept.truncate(n);
    swept
}

/// Every ceiling kernel this CPU can run (empty without AVX2+FMA).
pub fn ceiling_kernels() -> Vec<Kernel> {
    let mut all = Vec::new();
    for avx512 in [false, true] {
        if has(avx512) {
            for accumulators in [4, 8, 16, 32] {
                for streams in [1, 2] {
                    all.push(Kernel {
                        avx512,
                        accumulators,
                        streams,
                        prefetch: false,
                    });
                }
            }
            for (accumulators, streams) in [(8, 1), (16, 1), (4, 2), (8, 2)] {
                all.push(Kernel {
                    avx512,
                    accumulators,
                    streams,
                    prefetch: true,
                });
            }
        }
    }
    all
}

/// The fastest ceiling kernel for `x` and `op` on this CPU, by a short
/// sweep (the median of five batches of about a millisecond each), for
/// harnesses that then measure one kernel their own way (the criterion
/// benches). `None` without AVX2+FMA.
pub fn fastest<T: CeilingFloat>(x: &[T], op: Op) -> Option<Kernel> {
    let time = |k: Kernel| {
        let once = std::time::Instant::now();
        std::hint::black_box(T::reduce(std::hint::black_box(x), op, k));
        let reps = (1e-3 / once.elapsed().as_secs_f64().max(1e-9)).ceil() as u32;
        let mut t: Vec<f64> = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                for _ in 0..reps {
                    std::hint::black_box(T::reduce(std::hint::black_box(x), op, k));
                }
                start.elapsed().as_secs_f64() / f64::from(reps)
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[2]
    };
    ceiling_kernels()
        .into_iter()
        .map(|k| (time(k), k))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// An element type the ceilings reduce: `f32` and `f64`. Sealed, so that
/// [`SpinPair`] can rely on its methods not panicking (a panic on the
/// calling thread while the spinning thread works on the same call would
/// free the job that thread is using).
pub trait CeilingFloat: sealed::Sealed + Copy + Send + Sync + 'static {
    /// The reduction by kernel `k`, or `None` if the CPU lacks its
    /// instructions.
    fn reduce(x: &[Self], op: Op, k: Kernel) -> Option<f64>;
    /// The fused penalty and gradient by kernel `k` (one load per update):
    /// Σ|w| while adding `copysign(c, w)` to `g` (`Op::Abs`), or Σw² while
    /// adding `c·w` (`Op::Sq`); `None` if the CPU lacks the instructions.
    /// `g` is as long as `w`.
    fn gradient(w: &[Self], g: &mut [Self], c: f64, op: Op, k: Kernel) -> Option<f64>;
    /// The in-place update `u` by kernel `k` (its accumulators unroll the
    /// loop; its streams as for `reduce`); `None` if the CPU lacks the
    /// instructions.
    fn update(w: &mut [Self], u: Update, k: Kernel) -> Option<f64>;
}

/// An in-place update of the weights: what weight decay and the L1 prox
/// step do, without their checks or their order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Update {
    /// `w ← c·w` (returns 0): weight decay.
    Scale(f64),
    /// `w ← sign(w)·max(|w| − t, 0)`, returning the new Σ|w|: the L1 prox
    /// step (regnorm's also counts the zeros).
    Shrink(f64),
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

const ABS: u8 = 0;
const SQ: u8 = 1;
const BOTH: u8 = 2;
const SCALE: u8 = 0;
const SHRINK: u8 = 1;

fn op_code(op: Op) -> u8 {
    match op {
        Op::Abs => ABS,
        Op::Sq => SQ,
        Op::Both => BOTH,
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    use super::{ABS, SCALE, SHRINK, SQ};

    /// A reduction kernel generic over its accumulators `A`, its streams
    /// `L`, software prefetch `P` and its operation `OP`.
    macro_rules! reduce_kernel {
        ($name:ident, $feat:literal, $t:ty, $v:ty, $w:literal, $zero:ident, $load:ident,
         $mload:ident, $add:ident, $mul:ident, $fma:ident, $abs:expr, $hsum:expr) => {
            /// # Safety
            /// The CPU must have the target features.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name<const A: usize, const L: usize, const P: bool, const OP: u8>(
                x: &[$t],
            ) -> f64 {
                let (abs, sq) = (OP != SQ, OP != ABS);
                let mut acc: [$v; A] = [$zero(); A];
                let mut acc_sq: [$v; A] = [$zero(); A];
                // A masked head up to the first 64-byte boundary, so that
                // no load of the main loop splits a cache line.
                let head = (x.as_ptr().align_offset(64) % $w).min(x.len());
                if head > 0 {
                    // SAFETY: lanes 0..head of x are inside the slice.
                    let v = unsafe { $mload(x.as_ptr(), head) };
                    if abs {
                        acc[0] = $abs(v);
                    }
                    if sq {
                        acc_sq[0] = $mul(v, v);
                    }
                }
                let x = &x[head..];
                // L streams: the input's first L * rows * A vectors, read
                // as L parts side by side (one vector of each per update).
                let step = A * $w;
                let rows = x.len() / (L * step);
                let p = x.as_ptr();
                let q = p.wrapping_add(rows * step);
                for r in 0..rows {
                    for j in 0..A {
                        let at = r * step + j * $w;
                        if P {
                            // A hint only: no fault, whatever the address.
                            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(at + 1024).cast());
                            if L == 2 {
                                _mm_prefetch::<_MM_HINT_T0>(q.wrapping_add(at + 1024).cast());
                            }
                        }
                        // SAFETY: at + w <= rows * step <= len.
                        let v = unsafe { $load(p.add(at)) };
                        if L == 1 {
                            if abs {
                                acc[j] = $add(acc[j], $abs(v));
                            }
                            if sq {
                                acc_sq[j] = $fma(v, v, acc_sq[j]);
                            }
                        } else {
                            // SAFETY: rows * step + at + w <= 2 * rows * step <= len.
                            let u = unsafe { $load(q.add(at)) };
                            if abs {
                                acc[j] = $add(acc[j], $add($abs(v), $abs(u)));
                            }
                            if sq {
                                acc_sq[j] = $add(acc_sq[j], $fma(u, u, $mul(v, v)));
                            }
                        }
                    }
                }
                // The tail: whole vectors, then one masked vector, so that
                // short inputs are not dominated by a scalar loop.
                let mut i = L * rows * step;
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
                    (i, j) = (i + n, (j + 1) % A);
                }
                // A tree in registers, then across the lanes.
                let mut width = A;
                while width > 1 {
                    width /= 2;
                    for k in 0..width {
                        acc[k] = $add(acc[k], acc[k + width]);
                        acc_sq[k] = $add(acc_sq[k], acc_sq[k + width]);
                    }
                }
                $hsum($add(acc[0], acc_sq[0]))
            }
        };
    }

    /// The fused penalty and gradient generic over its accumulators `A`:
    /// Σ|w| while adding `copysign(c, w)` to `g` (`ABS`; `w = 0` is not
    /// special here), or Σw² while adding `c·w` (`SQ`), with the same tail
    /// handling as above.
    macro_rules! gradient_kernel {
        ($name:ident, $feat:literal, $t:ty, $v:ty, $w:literal, $zero:ident, $set1:ident,
         $load:ident, $mload:ident, $store:ident, $mstore:ident, $add:ident, $fma:ident,
         $abs:expr, $copysign:expr, $hsum:expr) => {
            /// # Safety
            /// The CPU must have the target features; `g.len() >= w.len()`.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name<const A: usize, const OP: u8>(
                w: &[$t],
                g: &mut [$t],
                c: $t,
            ) -> f64 {
                let abs = OP == ABS;
                let cv = $set1(c);
                let mut acc: [$v; A] = [$zero(); A];
                let (pw, pg) = (w.as_ptr(), g.as_mut_ptr());
                let mut i = 0;
                while i + A * $w <= w.len() {
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
                    (i, j) = (i + n, (j + 1) % A);
                }
                let mut width = A;
                while width > 1 {
                    width /= 2;
                    for k in 0..width {
                        acc[k] = $add(acc[k], acc[k + width]);
                    }
                }
                $hsum(acc[0])
            }
        };
    }

    /// An in-place update generic over its unrolling `A` (the accumulators
    /// of the sum it returns) and its streams `L` (as above): `w ← c·w`
    /// (`SCALE`; returns 0), or
    /// `w ← sign(w)·max(|w| − c, 0)` returning the new Σ|w| (`SHRINK`),
    /// with the same tail handling as above.
    macro_rules! update_kernel {
        ($name:ident, $feat:literal, $t:ty, $v:ty, $w:literal, $zero:ident, $set1:ident,
         $load:ident, $mload:ident, $store:ident, $mstore:ident, $add:ident, $sub:ident,
         $mul:ident, $max:ident, $abs:expr, $copysign:expr, $hsum:expr) => {
            /// # Safety
            /// The CPU must have the target features.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name<const A: usize, const L: usize, const OP: u8>(
                w: &mut [$t],
                c: $t,
            ) -> f64 {
                let cv = $set1(c);
                let mut acc: [$v; A] = [$zero(); A];
                let p = w.as_mut_ptr();
                // The new value of `v`, and what it adds to the sum.
                let update = |v: $v| {
                    if OP == SCALE {
                        ($mul(cv, v), $zero())
                    } else {
                        let m = $max($sub($abs(v), cv), $zero());
                        ($copysign(m, v), m)
                    }
                };
                let step = A * $w;
                let rows = w.len() / (L * step);
                for r in 0..rows {
                    for (j, a) in acc.iter_mut().enumerate() {
                        for part in 0..L {
                            let i = part * rows * step + r * step + j * $w;
                            // SAFETY: i + w <= L * rows * step <= len.
                            let (new, m) = update(unsafe { $load(p.add(i)) });
                            // SAFETY: as above.
                            unsafe { $store(p.add(i), new) };
                            if OP == SHRINK {
                                *a = $add(*a, m);
                            }
                        }
                    }
                }
                let mut i = L * rows * step;
                let mut j = 0;
                while i < w.len() {
                    let n = (w.len() - i).min($w);
                    // SAFETY: lanes 0..n of w from i are inside it.
                    let (new, m) = update(unsafe { $mload(p.add(i), n) });
                    // SAFETY: as above.
                    unsafe { $mstore(p.add(i), n, new) };
                    if OP == SHRINK {
                        acc[j] = $add(acc[j], m);
                    }
                    (i, j) = (i + n, (j + 1) % A);
                }
                let mut width = A;
                while width > 1 {
                    width /= 2;
                    for k in 0..width {
                        acc[k] = $add(acc[k], acc[k + width]);
                    }
                }
                $hsum(acc[0])
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
        // SAFETY: AVX is enabled in every caller (inlined).
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            f64::from(_mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s))))
        }
    }
    #[inline(always)]
    fn hsum_pd256(v: __m256d) -> f64 {
        // SAFETY: as above.
        unsafe {
            let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }
    }
    #[inline(always)]
    fn hsum_ps512(v: __m512) -> f64 {
        // SAFETY: AVX-512F is enabled in every caller (inlined).
        f64::from(unsafe { _mm512_reduce_add_ps(v) })
    }
    #[inline(always)]
    fn hsum_pd512(v: __m512d) -> f64 {
        // SAFETY: as above.
        unsafe { _mm512_reduce_add_pd(v) }
    }

    /// One instruction set's kernels for one element type, from one list
    /// of its intrinsics: `$tier::{reduce, gradient, update}`.
    macro_rules! tier_kernels {
        ($tier:ident, $feat:literal, $t:ty, $v:ty, $w:literal, $zero:ident, $set1:ident,
         $load:ident, $mload:ident, $store:ident, $mstore:ident, $add:ident, $sub:ident,
         $mul:ident, $max:ident, $fma:ident, $abs:expr, $copysign:expr, $hsum:expr) => {
            pub mod $tier {
                use super::*;

                reduce_kernel!(
                    reduce, $feat, $t, $v, $w, $zero, $load, $mload, $add, $mul, $fma, $abs, $hsum
                );
                gradient_kernel!(
                    gradient, $feat, $t, $v, $w, $zero, $set1, $load, $mload, $store, $mstore,
                    $add, $fma, $abs, $copysign, $hsum
                );
                update_kernel!(
                    update, $feat, $t, $v, $w, $zero, $set1, $load, $mload, $store, $mstore, $add,
                    $sub, $mul, $max, $abs, $copysign, $hsum
                );
            }
        };
    }

    tier_kernels!(
        f32_avx2,
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
        _mm256_sub_ps,
        _mm256_mul_ps,
        _mm256_max_ps,
        _mm256_fmadd_ps,
        abs_ps256,
        copysign_ps256,
        hsum_ps256
    );
    tier_kernels!(
        f64_avx2,
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
        _mm256_sub_pd,
        _mm256_mul_pd,
        _mm256_max_pd,
        _mm256_fmadd_pd,
        abs_pd256,
        copysign_pd256,
        hsum_pd256
    );
    tier_kernels!(
        f32_avx512,
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
        _mm512_sub_ps,
        _mm512_mul_ps,
        _mm512_max_ps,
        _mm512_fmadd_ps,
        _mm512_abs_ps,
        copysign_ps512,
        hsum_ps512
    );
    tier_kernels!(
        f64_avx512,
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
        _mm512_sub_pd,
        _mm512_mul_pd,
        _mm512_max_pd,
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

/// `CeilingFloat` for `$t` from its kernels in `x86::$avx512` and
/// `x86::$avx2`: each call picks the instantiation of the kernel's shape.
macro_rules! ceiling_float {
    ($t:ty, $avx512:ident, $avx2:ident) => {
        impl CeilingFloat for $t {
            fn reduce(x: &[$t], op: Op, k: Kernel) -> Option<f64> {
                if !has(k.avx512) {
                    return None;
                }
                #[cfg(target_arch = "x86_64")]
                {
                    macro_rules! pick {
                        ($f:ident, $p:literal) => {
                            match (k.accumulators, k.streams, op_code(op)) {
                                (4, 1, ABS) => x86::$f::reduce::<4, 1, $p, ABS>,
                                (4, 1, SQ) => x86::$f::reduce::<4, 1, $p, SQ>,
                                (4, 1, _) => x86::$f::reduce::<4, 1, $p, BOTH>,
                                (4, _, ABS) => x86::$f::reduce::<4, 2, $p, ABS>,
                                (4, _, SQ) => x86::$f::reduce::<4, 2, $p, SQ>,
                                (4, _, _) => x86::$f::reduce::<4, 2, $p, BOTH>,
                                (8, 1, ABS) => x86::$f::reduce::<8, 1, $p, ABS>,
                                (8, 1, SQ) => x86::$f::reduce::<8, 1, $p, SQ>,
                                (8, 1, _) => x86::$f::reduce::<8, 1, $p, BOTH>,
                                (8, _, ABS) => x86::$f::reduce::<8, 2, $p, ABS>,
                                (8, _, SQ) => x86::$f::reduce::<8, 2, $p, SQ>,
                                (8, _, _) => x86::$f::reduce::<8, 2, $p, BOTH>,
                                (16, 1, ABS) => x86::$f::reduce::<16, 1, $p, ABS>,
                                (16, 1, SQ) => x86::$f::reduce::<16, 1, $p, SQ>,
                                (16, 1, _) => x86::$f::reduce::<16, 1, $p, BOTH>,
                                (16, _, ABS) => x86::$f::reduce::<16, 2, $p, ABS>,
                                (16, _, SQ) => x86::$f::reduce::<16, 2, $p, SQ>,
                                (16, _, _) => x86::$f::reduce::<16, 2, $p, BOTH>,
                                (_, 1, ABS) => x86::$f::reduce::<32, 1, $p, ABS>,
                                (_, 1, SQ) => x86::$f::reduce::<32, 1, $p, SQ>,
                                (_, 1, _) => x86::$f::reduce::<32, 1, $p, BOTH>,
                                (_, _, ABS) => x86::$f::reduce::<32, 2, $p, ABS>,
                                (_, _, SQ) => x86::$f::reduce::<32, 2, $p, SQ>,
                                (_, _, _) => x86::$f::reduce::<32, 2, $p, BOTH>,
                            }
                        };
                    }
                    let f = match (k.avx512, k.prefetch) {
                        (true, true) => pick!($avx512, true),
                        (true, false) => pick!($avx512, false),
                        (false, true) => pick!($avx2, true),
                        (false, false) => pick!($avx2, false),
                    };
                    // SAFETY: the CPU has the kernel's features, checked above.
                    Some(unsafe { f(x) })
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = (x, op);
                    None
                }
            }

            fn gradient(w: &[$t], g: &mut [$t], c: f64, op: Op, k: Kernel) -> Option<f64> {
                assert!(op != Op::Both && g.len() >= w.len());
                if !has(k.avx512) {
                    return None;
                }
                #[cfg(target_arch = "x86_64")]
                {
                    macro_rules! pick {
                        ($f:ident) => {
                            match (k.accumulators, op) {
                                (4, Op::Abs) => x86::$f::gradient::<4, ABS>,
                                (4, _) => x86::$f::gradient::<4, SQ>,
                                (8, Op::Abs) => x86::$f::gradient::<8, ABS>,
                                (8, _) => x86::$f::gradient::<8, SQ>,
                                (16, Op::Abs) => x86::$f::gradient::<16, ABS>,
                                (16, _) => x86::$f::gradient::<16, SQ>,
                                (_, Op::Abs) => x86::$f::gradient::<32, ABS>,
                                (_, _) => x86::$f::gradient::<32, SQ>,
                            }
                        };
                    }
                    let f = if k.avx512 {
                        pick!($avx512)
                    } else {
                        pick!($avx2)
                    };
                    // SAFETY: the CPU has the kernel's features, checked
                    // above; g is as long as w (asserted).
                    Some(unsafe { f(w, g, c as $t) })
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = (w, g, c);
                    None
                }
            }

            fn update(w: &mut [$t], u: Update, k: Kernel) -> Option<f64> {
                if !has(k.avx512) {
                    return None;
                }
                #[cfg(target_arch = "x86_64")]
                {
                    macro_rules! pick {
                        ($f:ident, $op:ident) => {
                            match (k.accumulators, k.streams) {
                                (4, 1) => x86::$f::update::<4, 1, $op>,
                                (4, _) => x86::$f::update::<4, 2, $op>,
                                (8, 1) => x86::$f::update::<8, 1, $op>,
                                (8, _) => x86::$f::update::<8, 2, $op>,
                                (16, 1) => x86::$f::update::<16, 1, $op>,
                                (16, _) => x86::$f::update::<16, 2, $op>,
                                (_, 1) => x86::$f::update::<32, 1, $op>,
                                (_, _) => x86::$f::update::<32, 2, $op>,
                            }
                        };
                    }
                    let (f, c) = match (k.avx512, u) {
                        (true, Update::Scale(c)) => (pick!($avx512, SCALE), c),
                        (true, Update::Shrink(t)) => (pick!($avx512, SHRINK), t),
                        (false, Update::Scale(c)) => (pick!($avx2, SCALE), c),
                        (false, Update::Shrink(t)) => (pick!($avx2, SHRINK), t),
                    };
                    // SAFETY: the CPU has the kernel's features, checked above.
                    Some(unsafe { f(w, c as $t) })
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = (w, u);
                    None
                }
            }
        }
    };
}

ceiling_float!(f32, f32_avx512, f32_avx2);
ceiling_float!(f64, f64_avx512, f64_avx2);

/// The two-thread ceiling: a second thread spins waiting for work, which
/// it does with the kernel and operation of each [`SpinPair::run`],
/// [`SpinPair::run_tensors`], [`SpinPair::run_gradient`] or
/// [`SpinPair::run_update`].
pub struct SpinPair<T: CeilingFloat> {
    /// The element type the worker reads: fixed at creation, so that a
    /// job cannot hand it slices of another type.
    _elem: std::marker::PhantomData<fn(T)>,
    shared: Arc<Shared>,
    generation: u64,
    handle: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    go: AtomicU64,
    done: AtomicU64,
    /// The posted job: a `*mut Job<T>` on the poster's stack.
    job: AtomicUsize,
    stop: AtomicBool,
}

/// The worker's share of one call, and where its result goes.
struct Job<'a, T> {
    work: Work<'a, T>,
    op: Op,
    k: Kernel,
    result: f64,
}

enum Work<'a, T> {
    /// Reduce these slices one after another.
    Reduce(&'a [&'a [T]]),
    /// The fused penalty and gradient over `w` into `g` (as long as `w`).
    Gradient { w: &'a [T], g: &'a mut [T], c: f64 },
    /// An in-place update of `w`.
    Update { w: &'a mut [T], u: Update },
}

impl<T: CeilingFloat> Job<'_, T> {
    fn run(&mut self) {
        self.result = match &mut self.work {
            Work::Reduce(xs) => reduce_all(xs, self.op, self.k),
            Work::Gradient { w, g, c } => T::gradient(w, g, *c, self.op, self.k).unwrap_or(0.0),
            Work::Update { w, u } => T::update(w, *u, self.k).unwrap_or(0.0),
        };
    }
}

impl<T: CeilingFloat> SpinPair<T> {
    /// Starts the spinning worker for element type `T`.
    pub fn new() -> SpinPair<T> {
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
                // SAFETY: `split` published a pointer to a live `Job<T>` (the
                // pair is typed by `T`, so it is this type; `T` is `Send` and
                // `Sync`, so its slices may be used here) that nothing else
                // touches until `done` says this job is finished, and `split`
                // does not return, nor unwind, before that: its own share
                // runs this crate's kernels (`CeilingFloat` is sealed), which
                // do not panic once `run_gradient` has checked the lengths.
                // `split` takes `&mut self`, so one job at a time.
                let job = unsafe { &mut *(s.job.load(Ordering::Relaxed) as *mut Job<'_, T>) };
                job.run();
                s.done.store(g, Ordering::Release);
            }
        });
        SpinPair {
            _elem: std::marker::PhantomData,
            shared,
            generation: 0,
            handle: Some(handle),
        }
    }

    /// Reduces `x` with kernel `k`: the first half here, the second on the
    /// spinning thread.
    pub fn run(&mut self, x: &[T], op: Op, k: Kernel) -> f64 {
        let (a, b) = x.split_at((x.len() / 2) & !127);
        self.split(Work::Reduce(&[a]), Work::Reduce(&[b]), op, k)
    }

    /// Reduces the tensors `xs` with kernel `k`, split between tensors, not
    /// inside them: the first ones (as near half the elements as a
    /// tensor's boundary allows) here, the others on the spinning thread.
    /// The two-thread ceiling of a model of many small tensors, which
    /// splitting each tensor would not serve.
    pub fn run_tensors(&mut self, xs: &[&[T]], op: Op, k: Kernel) -> f64 {
        let total: usize = xs.iter().map(|x| x.len()).sum();
        let (mut here, mut before) = (0, 0);
        for x in xs {
            // Take this tensor here if that ends nearer the middle.
            if 2 * before + x.len() > total {
                break;
            }
            (here, before) = (here + 1, before + x.len());
        }
        let (a, b) = xs.split_at(here);
        self.split(Work::Reduce(a), Work::Reduce(b), op, k)
    }

    /// The fused penalty and gradient ([`CeilingFloat::gradient`]) with
    /// kernel `k`, `w` and `g` split in halves: the first here, the second
    /// on the spinning thread. `op` is `Op::Abs` or `Op::Sq`; `g` is as
    /// long as `w`.
    pub fn run_gradient(&mut self, w: &[T], g: &mut [T], c: f64, op: Op, k: Kernel) -> f64 {
        assert!(op != Op::Both && g.len() >= w.len());
        let mid = (w.len() / 2) & !127;
        let (w0, w1) = w.split_at(mid);
        let (g0, g1) = g[..w.len()].split_at_mut(mid);
        self.split(
            Work::Gradient { w: w0, g: g0, c },
            Work::Gradient { w: w1, g: g1, c },
            op,
            k,
        )
    }

    /// The in-place update `u` ([`CeilingFloat::update`]) of `w` with
    /// kernel `k`: the first half here, the second on the spinning thread.
    pub fn run_update(&mut self, w: &mut [T], u: Update, k: Kernel) -> f64 {
        let (a, b) = w.split_at_mut((w.len() / 2) & !127);
        self.split(
            Work::Update { w: a, u },
            Work::Update { w: b, u },
            Op::Abs,
            k,
        )
    }

    /// Does `here` on this thread and `there` on the spinning one.
    fn split(&mut self, here: Work<'_, T>, there: Work<'_, T>, op: Op, k: Kernel) -> f64 {
        let mut theirs = Job {
            work: there,
            op,
            k,
            result: 0.0,
        };
        let mut ours = Job {
            work: here,
            op,
            k,
            result: 0.0,
        };
        let s = &self.shared;
        s.job.store(&raw mut theirs as usize, Ordering::Relaxed);
        self.generation += 1;
        s.go.store(self.generation, Ordering::Release);
        ours.run();
        while s.done.load(Ordering::Acquire) != self.generation {
            std::hint::spin_loop();
        }
        ours.result + theirs.result
    }
}

/// The sum of every slice's reduction by kernel `k` (0 without its
/// instructions).
fn reduce_all<T: CeilingFloat>(xs: &[&[T]], op: Op, k: Kernel) -> f64 {
    xs.iter().map(|x| T::reduce(x, op, k).unwrap_or(0.0)).sum()
}

impl<T: CeilingFloat> Default for SpinPair<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: CeilingFloat> Drop for SpinPair<T> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_sums_like_the_exact_sum() {
        let x: Vec<f32> = (0..3001).map(|i| (i % 7) as f32 - 3.0).collect();
        let abs: f64 = x.iter().map(|v| f64::from(v.abs())).sum();
        let sq: f64 = x.iter().map(|v| f64::from(v * v)).sum();
        let mut pair = SpinPair::<f32>::new();
        for k in ceiling_kernels() {
            for (op, want) in [(Op::Abs, abs), (Op::Sq, sq), (Op::Both, abs + sq)] {
                assert_eq!(f32::reduce(&x, op, k), Some(want), "{k} {op:?}");
                assert_eq!(pair.run(&x, op, k), want, "{k} {op:?}, two threads");
                let tensors: Vec<&[f32]> = x.chunks(700).collect();
                assert_eq!(
                    pair.run_tensors(&tensors, op, k),
                    want,
                    "{k} {op:?}, split by tensors"
                );
            }
            for (op, want) in [(Op::Abs, abs), (Op::Sq, sq)] {
                let step = |w: f32| {
                    if op == Op::Abs {
                        0.5f32.copysign(w)
                    } else {
                        0.5 * w
                    }
                };
                let mut g = vec![1.0f32; x.len()];
                assert_eq!(
                    f32::gradient(&x, &mut g, 0.5, op, k),
                    Some(want),
                    "{k} {op:?}"
                );
                assert!(
                    x.iter().zip(&g).all(|(&w, &g)| g == 1.0 + step(w)),
                    "{k} {op:?}"
                );
                let mut g = vec![1.0f32; x.len()];
                assert_eq!(
                    pair.run_gradient(&x, &mut g, 0.5, op, k),
                    want,
                    "{k} {op:?}, two threads"
                );
                assert!(
                    x.iter().zip(&g).all(|(&w, &g)| g == 1.0 + step(w)),
                    "{k} {op:?}, two threads"
                );
            }
            let shrunk: Vec<f32> = x
                .iter()
                .map(|&w| (w.abs() - 0.5).max(0.0).copysign(w))
                .collect();
            let shrunk_abs: f64 = shrunk.iter().map(|v| f64::from(v.abs())).sum();
            for (u, want, sum) in [
                (
                    Update::Scale(0.5),
                    x.iter().map(|&w| 0.5 * w).collect::<Vec<_>>(),
                    0.0,
                ),
                (Update::Shrink(0.5), shrunk, shrunk_abs),
            ] {
                let mut w = x.clone();
                assert_eq!(f32::update(&mut w, u, k), Some(sum), "{k} {u:?}");
                assert_eq!(w, want, "{k} {u:?}");
                let mut w = x.clone();
                assert_eq!(pair.run_update(&mut w, u, k), sum, "{k} {u:?}, two threads");
                assert_eq!(w, want, "{k} {u:?}, two threads");
            }
        }
    }
}
