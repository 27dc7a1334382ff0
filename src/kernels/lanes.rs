//! The small vector interface the kernel body is written against.
//!
//! A tier supplies one [`Vector`] type per element type (one SIMD register:
//! `__m512`, `__m256d`, `wide::f32x8`, ...). [`Lanes<V, N>`] puts `N` of them
//! side by side to hold the `L` lanes of the canonical order, and [`Group`]
//! is what the kernel body sees: `L` lanes it can load, transform, add and
//! fold, whatever the register width underneath.

use core::fmt::Debug;
use core::ops::{Add, Mul, Sub};

use crate::element::{Element, Lane};
use crate::order::fold_tree;

/// The scalar type a lane accumulates in: `f32` or `f64`.
pub trait Float:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + PartialOrd
    + Debug
    + Send
    + Sync
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    /// Half the distance from 1 to the next value: the relative error bound
    /// of one rounding.
    const UNIT_ROUNDOFF: f64;
    fn abs(self) -> Self;
    /// `self·a + b` with one rounding (a fused multiply-add: exact in
    /// software where the target has no instruction for it).
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn copysign(self, sign: Self) -> Self;
    fn is_nan(self) -> bool;
    /// Exact widening to `f64`.
    fn to_f64(self) -> f64;
    /// Rounding from `f64` (to nearest).
    fn from_f64(v: f64) -> Self;
}

impl Float for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;
    #[inline(always)]
    fn abs(self) -> f32 {
        f32::abs(self)
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32) -> f32 {
        f32::mul_add(self, a, b)
    }
    #[inline(always)]
    fn copysign(self, sign: f32) -> f32 {
        f32::copysign(self, sign)
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
}

impl Float for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;
    #[inline(always)]
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    #[inline(always)]
    fn mul_add(self, a: f64, b: f64) -> f64 {
        f64::mul_add(self, a, b)
    }
    #[inline(always)]
    fn copysign(self, sign: f64) -> f64 {
        f64::copysign(self, sign)
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> f64 {
        v
    }
}

/// One SIMD register of `WIDTH` lanes.
///
/// # Safety
/// Every method may use instructions of the tier the implementing type
/// belongs to: the caller must have checked that the CPU supports them.
/// Pointer arguments must be valid for the reads each method states.
pub trait Vector: Copy {
    type Elem: Element;
    const WIDTH: usize;
    /// The alignment in bytes that makes full loads and stores fastest (the
    /// register size for the x86 tiers; the element size where alignment
    /// does not matter).
    const ALIGN: usize;
    /// The vector registers the tier has (16 unless it says otherwise):
    /// whether the body can keep two blocks' sums in flight.
    const REGISTERS: usize = 16;
    /// All lanes `+0.0`.
    unsafe fn zero() -> Self;
    /// All lanes `v`.
    unsafe fn splat(v: Lane<Self::Elem>) -> Self;
    /// Loads `WIDTH` elements from `ptr` (any alignment).
    unsafe fn load(ptr: *const Self::Elem) -> Self;
    /// Loads the lanes whose bits are set in `mask` (bit `i`: lane `i`, from
    /// `ptr + i`; the set bits form one run, below `WIDTH`; none is allowed)
    /// and zeros the others, touching no other memory: `ptr` itself may lie
    /// outside the slice, only the lanes read must be inside it.
    unsafe fn load_masked(ptr: *const Self::Elem, mask: u32) -> Self;
    /// Stores the `WIDTH` lanes to `ptr` (any alignment).
    unsafe fn store(self, ptr: *mut Self::Elem);
    /// Stores the lanes whose bits are set in `mask` (as for
    /// [`Vector::load_masked`]) to `ptr + i`, touching no other memory.
    unsafe fn store_masked(self, ptr: *mut Self::Elem, mask: u32);
    unsafe fn abs(self) -> Self;
    /// Lane-wise product, rounded once.
    unsafe fn mul(self, rhs: Self) -> Self;
    unsafe fn add(self, rhs: Self) -> Self;
    unsafe fn sub(self, rhs: Self) -> Self;
    /// `self·a + b`, lane-wise, rounded once (a fused multiply-add).
    unsafe fn mul_add(self, a: Self, b: Self) -> Self;
    /// `+1` for positive lanes, `-1` for negative ones, `+0` for `±0`, and
    /// the lane itself for NaN ([`sign`]).
    unsafe fn sign(self) -> Self;
    /// The magnitude of `self` with the sign bit of `sign`.
    unsafe fn copysign(self, sign: Self) -> Self;
    /// `value` in the lanes where `self` is greater than zero or NaN, `+0`
    /// in the others ([`where_positive`]).
    unsafe fn where_positive(self, value: Self) -> Self;
    /// Bit `i` set for each lane `i` equal to zero (`+0` or `-0`).
    unsafe fn zero_mask(self) -> u32;
    /// The tier's register of `f64` lanes: what the fold widens to.
    type Wide: Vector<Elem = f64>;
    /// Writes the lanes, widened exactly to `f64`, in order to the
    /// `WIDTH / Wide::WIDTH` registers of `out` (one for an `f64` register:
    /// itself; two for an `f32` one).
    unsafe fn widen(self, out: &mut [Self::Wide]);
    /// The fixed tree ([`fold_tree`]) over the lanes of an `f64` register.
    /// This default stores the lanes and folds them; the x86 tiers add
    /// register halves instead: the same additions, so the same bits.
    #[inline(always)]
    unsafe fn fold_lanes(self) -> f64
    where
        Self: Vector<Elem = f64>,
    {
        let mut lanes = [0.0f64; MAX_WIDE_WIDTH];
        debug_assert!(Self::WIDTH <= MAX_WIDE_WIDTH);
        // SAFETY: `lanes` holds at least WIDTH values; features: the caller.
        unsafe { self.store(lanes.as_mut_ptr()) };
        fold_tree(&mut lanes[..Self::WIDTH])
    }
}

/// The `L` lanes of the canonical order, as the kernel body sees them.
///
/// # Safety
/// As for [`Vector`]: the CPU must support the tier's instructions.
pub trait Group: Copy {
    type Elem: Element;
    /// `L`, the lane count of the canonical order for `Elem`.
    const LANES: usize;
    /// The alignment in bytes that makes [`Group::load`] fastest.
    const ALIGN: usize;
    /// The vector registers of the tier ([`Vector::REGISTERS`]).
    const REGISTERS: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(v: Lane<Self::Elem>) -> Self;
    /// Loads lanes `lo..hi` (`lo <= hi <= LANES`) from `ptr + lo .. ptr +
    /// hi` and zeros the others, touching no other memory (`ptr` itself may
    /// lie outside the slice).
    unsafe fn load(ptr: *const Self::Elem, lo: usize, hi: usize) -> Self;
    /// Stores lanes `lo..hi` to `ptr + lo .. ptr + hi`, touching no other
    /// memory.
    unsafe fn store(self, ptr: *mut Self::Elem, lo: usize, hi: usize);
    /// Hints that the `LANES` elements at `ptr` will be read soon. A hint
    /// only: it reads nothing, cannot fault, and `ptr` may point anywhere.
    fn prefetch(ptr: *const Self::Elem);
    unsafe fn abs(self) -> Self;
    /// `acc + self²`, lane-wise, rounded once (a fused multiply-add): how
    /// the canonical order adds a square to its lane.
    unsafe fn add_square_to(self, acc: Self) -> Self;
    unsafe fn mul(self, rhs: Self) -> Self;
    unsafe fn add(self, rhs: Self) -> Self;
    unsafe fn sub(self, rhs: Self) -> Self;
    /// `self·a + b`, lane-wise, rounded once (a fused multiply-add).
    unsafe fn mul_add(self, a: Self, b: Self) -> Self;
    unsafe fn sign(self) -> Self;
    unsafe fn copysign(self, sign: Self) -> Self;
    unsafe fn where_positive(self, value: Self) -> Self;
    /// The number of lanes in `lo..hi` equal to zero (`+0` or `-0`); the
    /// lanes outside the range do not count, whatever they hold.
    unsafe fn count_zeros(self, lo: usize, hi: usize) -> u32;
    /// Folds the lanes in `f64` with [`fold_tree`].
    unsafe fn fold(self) -> f64;
}

/// `N` registers side by side: lane `i` is lane `i % WIDTH` of register
/// `i / WIDTH`.
#[derive(Clone, Copy)]
pub struct Lanes<V, const N: usize>([V; N]);

/// `--cfg regnorm_unfused_squares` builds every tier with a square added as
/// a multiply, then an add (the order before 2026-11-27), to measure what
/// the fused multiply-add gives; the bits then differ from a normal build.
pub(crate) const UNFUSED_SQUARES: bool = cfg!(regnorm_unfused_squares);

/// The largest lane count of any element type; sizes scratch arrays.
pub(crate) const MAX_LANES: usize = 64;

/// The most `f64` registers a group's lanes widen to (64 `f32` lanes in
/// 4-lane `f64` registers), and the most lanes of one.
const MAX_WIDE: usize = 16;
const MAX_WIDE_WIDTH: usize = 8;

/// Implements a lane-wise [`Group`] method by applying the [`Vector`] method
/// of the same name to each register (plain loops: a closure passed to
/// `array::map` may be compiled outside the `#[target_feature]` function).
macro_rules! lanewise {
    ($name:ident()) => {
        #[inline(always)]
        unsafe fn $name(self) -> Self {
            let mut out = self.0;
            for v in &mut out {
                // SAFETY: features: the caller.
                *v = unsafe { v.$name() };
            }
            Self(out)
        }
    };
    ($name:ident($arg:ident)) => {
        #[inline(always)]
        unsafe fn $name(self, $arg: Self) -> Self {
            let mut out = self.0;
            for (v, a) in out.iter_mut().zip($arg.0) {
                // SAFETY: features: the caller.
                *v = unsafe { v.$name(a) };
            }
            Self(out)
        }
    };
    ($name:ident($a:ident, $b:ident)) => {
        #[inline(always)]
        unsafe fn $name(self, $a: Self, $b: Self) -> Self {
            let mut out = self.0;
            for ((v, a), b) in out.iter_mut().zip($a.0).zip($b.0) {
                // SAFETY: features: the caller.
                *v = unsafe { v.$name(a, b) };
            }
            Self(out)
        }
    };
}

impl<V: Vector, const N: usize> Group for Lanes<V, N> {
    type Elem = V::Elem;
    const LANES: usize = N * V::WIDTH;
    const ALIGN: usize = V::ALIGN;
    const REGISTERS: usize = V::REGISTERS;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller guarantees the tier's CPU features.
        Self([unsafe { V::zero() }; N])
    }

    #[inline(always)]
    unsafe fn splat(v: Lane<Self::Elem>) -> Self {
        // SAFETY: the caller guarantees the tier's CPU features.
        Self([unsafe { V::splat(v) }; N])
    }

    #[inline(always)]
    unsafe fn load(ptr: *const Self::Elem, lo: usize, hi: usize) -> Self {
        debug_assert!(lo <= hi && hi <= Self::LANES);
        // SAFETY: features: the caller.
        let mut out = unsafe { Self::zero() }.0;
        // A full row (the body's full-row call site, where this test is a
        // constant) loads whole registers; a head or tail row loads each
        // register masked by its share of one mask of the row, with no
        // branch per register (a model's many small tensors would make
        // them unpredictable).
        let (full, mask) = (lo == 0 && hi == Self::LANES, run_mask(lo, hi));
        for (k, v) in out.iter_mut().enumerate() {
            let p = ptr.wrapping_add(k * V::WIDTH);
            // SAFETY: register k reads the lanes of p its mask selects:
            // lanes of the group inside lo..hi, memory the caller
            // guarantees readable; features: the caller.
            unsafe {
                *v = if full {
                    V::load(p)
                } else {
                    V::load_masked(p, register_mask::<V>(mask, k))
                };
            }
        }
        Self(out)
    }

    #[inline(always)]
    unsafe fn store(self, ptr: *mut Self::Elem, lo: usize, hi: usize) {
        debug_assert!(lo <= hi && hi <= Self::LANES);
        // As in `load`: whole registers, or each masked by its share.
        let (full, mask) = (lo == 0 && hi == Self::LANES, run_mask(lo, hi));
        for (k, v) in self.0.into_iter().enumerate() {
            let p = ptr.wrapping_add(k * V::WIDTH);
            // SAFETY: register k writes the lanes of p its mask selects,
            // inside the lanes lo..hi the caller guarantees writable;
            // features: the caller.
            unsafe {
                if full {
                    v.store(p);
                } else {
                    v.store_masked(p, register_mask::<V>(mask, k));
                }
            }
        }
    }

    #[inline(always)]
    fn prefetch(ptr: *const Self::Elem) {
        let bytes = Self::LANES * size_of::<Self::Elem>();
        for line in (0..bytes).step_by(64) {
            prefetch_line(ptr.cast::<u8>().wrapping_add(line));
        }
    }

    #[inline(always)]
    unsafe fn add_square_to(self, acc: Self) -> Self {
        let mut out = acc.0;
        for (o, v) in out.iter_mut().zip(self.0) {
            // SAFETY: features: the caller.
            *o = unsafe {
                if UNFUSED_SQUARES {
                    o.add(v.mul(v))
                } else {
                    v.mul_add(v, *o)
                }
            };
        }
        Self(out)
    }

    lanewise!(abs());
    lanewise!(sign());
    lanewise!(mul(rhs));
    lanewise!(add(rhs));
    lanewise!(sub(rhs));
    lanewise!(mul_add(a, b));
    lanewise!(copysign(sign));
    lanewise!(where_positive(value));

    #[inline(always)]
    unsafe fn count_zeros(self, lo: usize, hi: usize) -> u32 {
        // LANES <= 64: one bit per lane, as in the row masks of `load`.
        let mut zeros = 0u64;
        for (k, v) in self.0.into_iter().enumerate() {
            // SAFETY: features: the caller.
            zeros |= u64::from(unsafe { v.zero_mask() }) << (k * V::WIDTH);
        }
        (zeros & run_mask(lo, hi)).count_ones()
    }

    #[inline(always)]
    unsafe fn fold(self) -> f64 {
        // Widened, register k's lanes fill wide registers k·per ..
        // (k + 1)·per, so wide register j holds lanes j·W .. (j + 1)·W in
        // order (W = Wide::WIDTH). The levels of `fold_tree` that pair lanes
        // at least W apart then pair whole registers, j with j + count/2:
        // they run as register adds, and the last register's W lanes finish
        // the tree. (Folding through an array of lanes instead lets LLVM
        // interleave the two folds of the fused sums into 2-lane adds and
        // shuffles, much slower on short inputs: docs/kernels.md.)
        let per = V::WIDTH / V::Wide::WIDTH;
        let mut count = N * per;
        debug_assert!(count.is_power_of_two() && count <= MAX_WIDE);
        // SAFETY: features: the caller.
        let mut wide = [unsafe { V::Wide::zero() }; MAX_WIDE];
        for (k, v) in self.0.into_iter().enumerate() {
            // SAFETY: writes wide[k·per .. (k + 1)·per], inside the array
            // since N·per <= MAX_WIDE; features: the caller.
            unsafe { v.widen(&mut wide[k * per..(k + 1) * per]) };
        }
        while count > 1 {
            count /= 2;
            for j in 0..count {
                // SAFETY: features: the caller.
                wide[j] = unsafe { wide[j].add(wide[j + count]) };
            }
        }
        // SAFETY: features: the caller.
        unsafe { wide[0].fold_lanes() }
    }
}

/// The bits `lo..hi` (`lo <= hi <= 64`): the lanes of a head or tail row.
#[inline(always)]
fn run_mask(lo: usize, hi: usize) -> u64 {
    let below = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    below(hi) & !below(lo)
}

/// The lanes `lo..hi` a mask of one run of bits selects (`0..0` for none).
#[inline(always)]
pub(crate) fn run_bounds(mask: u32) -> (usize, usize) {
    if mask == 0 {
        (0, 0)
    } else {
        (
            mask.trailing_zeros() as usize,
            (u32::BITS - mask.leading_zeros()) as usize,
        )
    }
}

/// Register `k`'s share of a group's lane mask: its `WIDTH` bits.
#[inline(always)]
fn register_mask<V: Vector>(mask: u64, k: usize) -> u32 {
    debug_assert!(V::WIDTH <= 16);
    ((mask >> (k * V::WIDTH)) & ((1 << V::WIDTH) - 1)) as u32
}

/// Asks the CPU to bring the cache line at `p` into L1 (x86_64: SSE's
/// `prefetcht0`, part of the baseline target); elsewhere nothing.
#[inline(always)]
fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that accesses no memory and never faults,
    // whatever the address; SSE is enabled on every x86_64 target.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The sign of `x` as the kernels define it: `+1` if `x > 0`, `-1` if
/// `x < 0`, `+0` for `±0` (the subgradient of `|x|` at 0), and `x` itself if
/// it is NaN.
#[inline(always)]
pub(crate) fn sign<F: Float>(x: F) -> F {
    if x.is_nan() {
        x
    } else if x > F::ZERO {
        F::ONE
    } else if x < F::ZERO {
        F::ZERO - F::ONE
    } else {
        F::ZERO
    }
}

/// `value` if `m > 0` or `m` is NaN, else `+0`: the scalar definition of
/// [`Vector::where_positive`].
#[inline(always)]
pub(crate) fn where_positive<F: Float>(m: F, value: F) -> F {
    if m <= F::ZERO { F::ZERO } else { value }
}
