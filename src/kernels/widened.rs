//! Half-precision elements in `f32` registers: one [`Vector`] for `bf16`
//! and `f16` on every tier.
//!
//! A half slice reduces exactly as its widening to `f32` does, and an
//! element-wise op is the `f32` op rounded once to the half type (see the
//! crate docs). So the lanes are `f32` registers, and only loading and
//! storing differ from the `f32` kernels: a tier supplies [`HalfIo`] for its
//! `f32` register (widen `WIDTH` halves exactly, narrow with
//! round-to-nearest-even), and [`Widened`] puts it behind the [`Vector`]
//! interface the one kernel body is written against.

use core::marker::PhantomData;

use super::lanes::{Vector, run_bounds};
use crate::element::Element;
use crate::element::sealed::Sealed;

/// How an `f32` register of a tier moves values of the half type `H` in and
/// out of memory.
///
/// # Safety
/// As for [`Vector`]: the CPU must support the tier's instructions; the
/// pointers must be valid for `WIDTH` reads or writes.
pub trait HalfIo<H>: Vector<Elem = f32> {
    /// `WIDTH` halves from `ptr` (any alignment), widened exactly.
    unsafe fn load_half(ptr: *const H) -> Self;
    /// The lanes rounded to `H` (to nearest, ties to even; NaN stays NaN;
    /// overflow gives ±Inf; subnormals kept), stored to `ptr`.
    unsafe fn store_half(self, ptr: *mut H);
}

/// An `f32` register `V` holding widened elements of the half type `H`.
#[derive(Clone, Copy)]
pub struct Widened<V, H>(V, PhantomData<H>);

impl<V, H> Widened<V, H> {
    #[inline(always)]
    fn new(v: V) -> Self {
        Widened(v, PhantomData)
    }
}

/// Implements a lane-wise [`Vector`] method of [`Widened`] by the `f32`
/// register's method of the same name.
macro_rules! delegate {
    ($name:ident($($arg:ident),*)) => {
        #[inline(always)]
        unsafe fn $name(self $(, $arg: Self)*) -> Self {
            // SAFETY: the caller guarantees the tier's features.
            Self::new(unsafe { self.0.$name($($arg.0),*) })
        }
    };
}

/// The most lanes of any `f32` register (AVX-512): sizes scratch arrays.
const MAX_WIDTH: usize = 16;

impl<V, H> Vector for Widened<V, H>
where
    V: HalfIo<H>,
    H: Element + Sealed<Lane = f32> + Default,
{
    type Elem = H;
    type Wide = V::Wide;
    const WIDTH: usize = V::WIDTH;
    const REGISTERS: usize = V::REGISTERS;
    const ALIGN: usize = V::WIDTH * size_of::<H>();

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller guarantees the tier's features.
        Self::new(unsafe { V::zero() })
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: as above.
        Self::new(unsafe { V::splat(v) })
    }
    #[inline(always)]
    unsafe fn load(ptr: *const H) -> Self {
        // SAFETY: the caller's contract is `load_half`'s.
        Self::new(unsafe { V::load_half(ptr) })
    }
    #[inline(always)]
    unsafe fn load_masked(ptr: *const H, mask: u32) -> Self {
        // Head and tail rows only: through a zeroed copy of lanes lo..hi.
        let mut lanes = [H::default(); MAX_WIDTH];
        let (lo, hi) = run_bounds(mask);
        debug_assert!(lo <= hi && hi <= V::WIDTH && V::WIDTH <= MAX_WIDTH);
        // SAFETY: ptr + lo .. ptr + hi is readable (caller) and fits in
        // `lanes`; `lanes` holds WIDTH values for `load_half`.
        unsafe {
            core::ptr::copy_nonoverlapping(
                ptr.wrapping_add(lo),
                lanes.as_mut_ptr().add(lo),
                hi - lo,
            );
            Self::new(V::load_half(lanes.as_ptr()))
        }
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut H) {
        // SAFETY: the caller's contract is `store_half`'s.
        unsafe { self.0.store_half(ptr) }
    }
    #[inline(always)]
    unsafe fn store_masked(self, ptr: *mut H, mask: u32) {
        let mut lanes = [H::default(); MAX_WIDTH];
        let (lo, hi) = run_bounds(mask);
        debug_assert!(lo <= hi && hi <= V::WIDTH && V::WIDTH <= MAX_WIDTH);
        // SAFETY: `lanes` holds WIDTH values; ptr + lo .. ptr + hi is
        // writable (caller).
        unsafe {
            self.0.store_half(lanes.as_mut_ptr());
            core::ptr::copy_nonoverlapping(lanes.as_ptr().add(lo), ptr.wrapping_add(lo), hi - lo);
        }
    }
    delegate!(abs());
    delegate!(mul(rhs));
    delegate!(add(rhs));
    delegate!(sub(rhs));
    delegate!(mul_add(a, b));
    delegate!(sign());
    delegate!(copysign(sign));
    delegate!(where_positive(value));
    #[inline(always)]
    unsafe fn zero_mask(self) -> u32 {
        // SAFETY: as above.
        unsafe { self.0.zero_mask() }
    }
    #[inline(always)]
    unsafe fn widen(self, out: &mut [V::Wide]) {
        // SAFETY: as above.
        unsafe { self.0.widen(out) }
    }
}
