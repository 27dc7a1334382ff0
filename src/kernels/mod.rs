//! The kernel tiers, their run-time selection, and the dispatcher.
//!
//! Every tier computes the same canonical order (see [`crate::reduce`]), so
//! every tier returns the same bits for the same input; they differ only in
//! speed:
//!
//! | tier | code | needs |
//! |---|---|---|
//! | [`Tier::Scalar`] | `scalar.rs`: plain loops, the reference | nothing |
//! | [`Tier::Portable`] | `portable.rs`: `wide` vectors, width fixed at compile time | nothing |
//! | [`Tier::Avx`] | `x86_64/avx.rs`: `__m256`, `#[target_feature(enable = "avx2,fma,f16c")]` | x86_64 with AVX2, FMA and F16C |
//! | [`Tier::Avx512`] | `x86_64/avx512.rs`: `__m512`, `#[target_feature(enable = "avx512f")]` | x86_64 with AVX-512F |
//!
//! The CPU is examined once, on the first call, and the answer is cached in
//! an atomic (as `memchr` does; racing first calls compute and store the same
//! value). A dispatched call then costs one relaxed load and a `match`. Where
//! the build already enables a tier's feature (`-C target-cpu=native`), the
//! check is a constant and the tier is called directly.

pub(crate) mod body;
pub(crate) mod lanes;
pub(crate) mod ops;
pub(crate) mod portable;
pub(crate) mod scalar;
#[cfg(feature = "half")]
pub(crate) mod widened;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

use core::fmt;
use core::ops::Add;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::element::sealed::Sealed;
use lanes::Group;
use ops::Rows;

/// The element × tier map: the registers that hold the `L` lanes of an
/// element type on each vector tier. Sealed with [`crate::Element`], whose
/// supertrait it is; implemented for every element type here, beside the
/// tiers, so that `element.rs` names no tier.
pub trait TierLanes: Sealed {
    /// `L` lanes as `wide` vectors: the portable tier.
    type Portable: Group<Elem = Self>;
    /// `L` lanes as 256-bit AVX registers.
    #[cfg(target_arch = "x86_64")]
    type Avx: Group<Elem = Self>;
    /// `L` lanes as 512-bit AVX-512F registers.
    #[cfg(target_arch = "x86_64")]
    type Avx512: Group<Elem = Self>;
}

impl TierLanes for f32 {
    type Portable = portable::F32Lanes;
    #[cfg(target_arch = "x86_64")]
    type Avx = x86_64::AvxF32;
    #[cfg(target_arch = "x86_64")]
    type Avx512 = x86_64::Avx512F32;
}

impl TierLanes for f64 {
    type Portable = portable::F64Lanes;
    #[cfg(target_arch = "x86_64")]
    type Avx = x86_64::AvxF64;
    #[cfg(target_arch = "x86_64")]
    type Avx512 = x86_64::Avx512F64;
}

/// `bf16` and `f16`: the `f32` registers of each tier behind a widening
/// load and a narrowing store (`widened.rs`).
#[cfg(feature = "half")]
macro_rules! half_tier_lanes {
    ($t:ty) => {
        impl TierLanes for $t {
            type Portable = portable::HalfLanes<$t>;
            #[cfg(target_arch = "x86_64")]
            type Avx = x86_64::AvxHalf<$t>;
            #[cfg(target_arch = "x86_64")]
            type Avx512 = x86_64::Avx512Half<$t>;
        }
    };
}
#[cfg(feature = "half")]
half_tier_lanes!(half::bf16);
#[cfg(feature = "half")]
half_tier_lanes!(half::f16);

/// The two sums regnorm reduces a slice to, carried in `f64`.
///
/// ```
/// let s = regnorm::sums(&[3.0f32, -4.0]);
/// assert_eq!(s, regnorm::Sums { abs: 7.0, sq: 25.0 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct Sums {
    /// Σ|xᵢ|.
    pub abs: f64,
    /// Σxᵢ².
    pub sq: f64,
}

impl Sums {
    /// Both sums zero: the sums of an empty slice.
    ///
    /// ```
    /// assert_eq!(regnorm::sums::<f64>(&[]), regnorm::Sums::ZERO);
    /// ```
    pub const ZERO: Sums = Sums { abs: 0.0, sq: 0.0 };
}

impl Add for Sums {
    type Output = Sums;
    /// Adds each sum in `f64`.
    ///
    /// ```
    /// use regnorm::Sums;
    /// let s = Sums { abs: 1.0, sq: 2.0 } + Sums { abs: 3.0, sq: 4.0 };
    /// assert_eq!(s, Sums { abs: 4.0, sq: 6.0 });
    /// ```
    #[inline]
    fn add(self, rhs: Sums) -> Sums {
        Sums {
            abs: self.abs + rhs.abs,
            sq: self.sq + rhs.sq,
        }
    }
}

/// What one pass reduces to: the sums of the values it visits and, for the
/// proximal step, the number of zeros among them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Totals {
    pub sums: Sums,
    pub zeros: usize,
}

impl Totals {
    pub const ZERO: Totals = Totals {
        sums: Sums::ZERO,
        zeros: 0,
    };
}

impl Add for Totals {
    type Output = Totals;
    #[inline]
    fn add(self, rhs: Totals) -> Totals {
        Totals {
            sums: self.sums + rhs.sums,
            zeros: self.zeros + rhs.zeros,
        }
    }
}

/// An implementation tier of the kernels.
///
/// All tiers return identical bits; use them to compare speed or to pin one
/// down. [`Tier::best`] is what the dispatched functions use.
///
/// ```
/// use regnorm::{Exec, Tier};
/// let x = vec![0.5f32; 10_000];
/// let reference = Exec::sequential().with_tier(Tier::Scalar).unwrap().sum_abs(&x);
/// for tier in Tier::available() {
///     let exec = Exec::sequential().with_tier(tier).unwrap();
///     assert_eq!(exec.sum_abs(&x).to_bits(), reference.to_bits(), "{tier}");
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Tier {
    /// Plain loops: the reference definition. Always available.
    Scalar,
    /// `wide` vectors, whose width is fixed when regnorm is compiled (SSE2 in
    /// a default x86_64 build, NEON on aarch64). Always available.
    Portable,
    /// 256-bit AVX registers, selected at run time. x86_64 with AVX2, FMA
    /// and F16C (Intel since Haswell, 2013; AMD since Zen, 2017).
    Avx,
    /// 512-bit AVX-512F registers, selected at run time. x86_64 with AVX-512F.
    Avx512,
}

impl Tier {
    /// Every tier, slowest first, whether or not this CPU has it.
    ///
    /// ```
    /// assert_eq!(regnorm::Tier::ALL[0], regnorm::Tier::Scalar);
    /// ```
    pub const ALL: [Tier; 4] = [Tier::Scalar, Tier::Portable, Tier::Avx, Tier::Avx512];

    /// A short lowercase name: `scalar`, `portable`, `avx`, `avx512`.
    ///
    /// ```
    /// assert_eq!(regnorm::Tier::Avx512.name(), "avx512");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Scalar => "scalar",
            Tier::Portable => "portable",
            Tier::Avx => "avx",
            Tier::Avx512 => "avx512",
        }
    }

    /// Whether this CPU (and target) can run the tier.
    ///
    /// ```
    /// assert!(regnorm::Tier::Scalar.is_available());
    /// assert!(regnorm::Tier::Portable.is_available());
    /// ```
    #[inline]
    pub fn is_available(self) -> bool {
        available_bits() & self.bit() != 0
    }

    /// The tiers this CPU can run, slowest first.
    ///
    /// ```
    /// let tiers = regnorm::Tier::available();
    /// assert!(tiers.contains(&regnorm::Tier::best()));
    /// ```
    pub fn available() -> Vec<Tier> {
        Tier::ALL.into_iter().filter(|t| t.is_available()).collect()
    }

    /// The fastest tier this CPU can run: what the dispatched calls use.
    ///
    /// ```
    /// assert!(regnorm::Tier::best() >= regnorm::Tier::Portable);
    /// ```
    #[inline]
    pub fn best() -> Tier {
        let bits = available_bits();
        if bits & Tier::Avx512.bit() != 0 {
            Tier::Avx512
        } else if bits & Tier::Avx.bit() != 0 {
            Tier::Avx
        } else {
            Tier::Portable
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Set in [`DETECTED`] once the CPU has been examined.
const DETECTED_FLAG: u8 = 0x80;

/// The available tiers as bits (`1 << tier`), plus [`DETECTED_FLAG`];
/// zero until the first call examines the CPU.
static DETECTED: AtomicU8 = AtomicU8::new(0);

/// The tiers this build can run without asking the CPU.
const fn compiled_bits() -> u8 {
    let mut bits = Tier::Scalar.bit() | Tier::Portable.bit();
    if cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    )) {
        bits |= Tier::Avx.bit();
    }
    if cfg!(all(target_arch = "x86_64", target_feature = "avx512f")) {
        bits |= Tier::Avx512.bit();
    }
    bits
}

#[inline]
fn available_bits() -> u8 {
    // A build that enables AVX-512F has every tier: no need to ask.
    if compiled_bits() & Tier::Avx512.bit() != 0 {
        return compiled_bits();
    }
    match DETECTED.load(Ordering::Relaxed) {
        0 => detect(),
        bits => bits,
    }
}

#[cold]
fn detect() -> u8 {
    #[allow(unused_mut)]
    let mut bits = compiled_bits() | DETECTED_FLAG;
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            bits |= Tier::Avx.bit();
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            bits |= Tier::Avx512.bit();
        }
    }
    DETECTED.store(bits, Ordering::Relaxed);
    bits
}

/// What one kernel call runs, in super-chunks of `chunk` elements.
pub(crate) enum Work<'a, R> {
    /// One pass over a run of whole super-chunks (the last may be short):
    /// each one's totals to `out`, in order, which holds one per
    /// super-chunk. `stream` asks for software prefetch.
    Chunks {
        rows: &'a mut R,
        stream: bool,
        out: &'a mut [Totals],
    },
    /// A model's small tensors in one call: each pass still to run
    /// (`Some`), of at most one super-chunk, is taken and run, and its
    /// totals go beside it. One call for many tensors saves each the
    /// dispatch and lets one tensor's fold overlap the next one's reads.
    Each(&'a mut [Item<R>]),
}

/// A tensor of a model while its pass waits to run: the pass (taken when
/// it runs) and its totals.
pub(crate) type Item<R> = (Option<R>, Totals);

impl<R: Rows> Work<'_, R> {
    /// Runs the work with `one`, a tier's kernel over one pass: `one(rows,
    /// stream, out)` fills `out`, one total per super-chunk of `rows`.
    #[inline(always)]
    fn run_with(self, chunk: usize, mut one: impl FnMut(&mut R, bool, &mut [Totals])) {
        match self {
            Work::Chunks { rows, stream, out } => one(rows, stream, out),
            Work::Each(items) => {
                for (rows, total) in items {
                    if let Some(mut rows) = rows.take() {
                        // One super-chunk, or none if empty (no division:
                        // `chunk` is not a constant here).
                        debug_assert!(rows.len() <= chunk);
                        let chunks = usize::from(rows.len() > 0);
                        one(
                            &mut rows,
                            false,
                            &mut core::slice::from_mut(total)[..chunks],
                        );
                    }
                }
            }
        }
    }
}

/// Runs `work` on `tier`, reducing each pass (Σ|v| if `ABS`, Σv² if `SQ`).
/// A tier this CPU cannot run is replaced by the portable one, which
/// returns the same bits (callers check availability before, to report
/// it).
#[inline]
pub(crate) fn run<R: Rows, const ABS: bool, const SQ: bool>(
    tier: Tier,
    work: Work<'_, R>,
    chunk: usize,
) {
    match tier {
        Tier::Scalar => work.run_with(chunk, |rows, _, out| {
            scalar::run::<R, ABS, SQ>(rows, chunk, out)
        }),
        #[cfg(target_arch = "x86_64")]
        Tier::Avx512 if tier.is_available() => {
            // SAFETY: the CPU has AVX-512F, checked just above.
            unsafe { x86_64::avx512_run::<R, ABS, SQ>(work, chunk) }
        }
        #[cfg(target_arch = "x86_64")]
        Tier::Avx if tier.is_available() => {
            // SAFETY: the CPU has AVX2, FMA and F16C, checked just above.
            unsafe { x86_64::avx_run::<R, ABS, SQ>(work, chunk) }
        }
        _ => work.run_with(chunk, |rows, stream, out| {
            // SAFETY: the portable tier uses only instructions of the build
            // target, which every CPU running this binary has.
            unsafe {
                body::run::<<R::Elem as TierLanes>::Portable, R, ABS, SQ>(rows, stream, chunk, out)
            }
        }),
    }
}
