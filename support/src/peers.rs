//! The libraries a user would otherwise call, as `Σ|x|` and `Σx²` of a
//! slice, each the idiomatic way its documentation shows:
//!
//! * the naive iterator, `iter().map(abs).sum()` and `iter().map(x·x).sum()`;
//! * ndarray: `ArrayView1::from(x).mapv(abs).sum()` and `a.dot(&a)`;
//! * nalgebra: `DVectorView::from_slice(x, n).lp_norm(1)` and `.norm_squared()`;
//! * with the `faer` feature, faer: `ColRef::from_slice(x).norm_l1()` and
//!   `.squared_norm_l2()`;
//! * with the `openblas` feature, the system OpenBLAS through CBLAS:
//!   `cblas_?asum` and `cblas_?dot(x, x)` on one thread and on OpenBLAS's
//!   default thread count, and `cblas_?nrm2` (squared), threaded.
//!
//! Results are widened to `f64`; each peer accumulates in the element type
//! (`f32` for the half types: their peers widen first, as a user would).

#[cfg(feature = "faer")]
use faer::ColRef;
use nalgebra::DVectorView;
use ndarray::ArrayView1;

/// Whether faer is one of the peers (the `faer` feature).
pub const FAER: bool = cfg!(feature = "faer");

/// Whether the system OpenBLAS is one of the peers (the `openblas` feature).
pub const OPENBLAS: bool = cfg!(feature = "openblas");

/// One peer's two reductions.
#[derive(Clone, Copy)]
pub struct Peer<T: 'static> {
    pub name: &'static str,
    pub sum_abs: Option<fn(&[T]) -> f64>,
    pub sum_sq: Option<fn(&[T]) -> f64>,
}

impl<T> Peer<T> {
    /// The peer's Σw² if `sq`, else its Σ|w|, if it has one.
    pub fn reduction(&self, sq: bool) -> Option<fn(&[T]) -> f64> {
        if sq { self.sum_sq } else { self.sum_abs }
    }
}

/// Element types every peer supports.
pub trait PeerFloat: Copy + Send + Sync + 'static {
    fn peers() -> Vec<Peer<Self>>;
}

macro_rules! peers_for {
    ($t:ty, $asum:ident, $dot:ident, $nrm2:ident) => {
        impl PeerFloat for $t {
            fn peers() -> Vec<Peer<$t>> {
                #[allow(unused_mut)]
                let mut peers = vec![
                    Peer {
                        name: "naive iter().sum()",
                        sum_abs: Some(|x: &[$t]| f64::from(x.iter().map(|v| v.abs()).sum::<$t>())),
                        sum_sq: Some(|x: &[$t]| f64::from(x.iter().map(|v| v * v).sum::<$t>())),
                    },
                    Peer {
                        name: "ndarray",
                        sum_abs: Some(|x: &[$t]| {
                            f64::from(ArrayView1::from(x).mapv(<$t>::abs).sum())
                        }),
                        sum_sq: Some(|x: &[$t]| {
                            let a = ArrayView1::from(x);
                            f64::from(a.dot(&a))
                        }),
                    },
                    Peer {
                        name: "nalgebra",
                        sum_abs: Some(|x: &[$t]| {
                            f64::from(DVectorView::from_slice(x, x.len()).lp_norm(1))
                        }),
                        sum_sq: Some(|x: &[$t]| {
                            f64::from(DVectorView::from_slice(x, x.len()).norm_squared())
                        }),
                    },
                ];
                #[cfg(feature = "faer")]
                peers.push(Peer {
                    name: "faer",
                    sum_abs: Some(|x: &[$t]| f64::from(ColRef::from_slice(x).norm_l1())),
                    sum_sq: Some(|x: &[$t]| f64::from(ColRef::from_slice(x).squared_norm_l2())),
                });
                #[cfg(feature = "openblas")]
                peers.extend([
                    Peer {
                        name: "openblas, 1 thread",
                        sum_abs: Some(|x: &[$t]| openblas::one_thread(|| openblas::$asum(x))),
                        sum_sq: Some(|x: &[$t]| openblas::one_thread(|| openblas::$dot(x))),
                    },
                    Peer {
                        name: "openblas, threaded",
                        sum_abs: Some(|x: &[$t]| openblas::all_threads(|| openblas::$asum(x))),
                        sum_sq: Some(|x: &[$t]| openblas::all_threads(|| openblas::$dot(x))),
                    },
                    Peer {
                        name: "openblas nrm2², threaded",
                        sum_abs: None,
                        sum_sq: Some(|x: &[$t]| openblas::all_threads(|| openblas::$nrm2(x))),
                    },
                ]);
                peers
            }
        }
    };
}

peers_for!(f32, sasum, sdot, snrm2_squared);
peers_for!(f64, dasum, ddot, dnrm2_squared);

/// Half types: what a user without regnorm writes. The plain iterator
/// (widening each value, accumulating in `f32`), and `half`'s slice
/// conversion to a new `f32` vector followed by the fastest f32 peers.
macro_rules! half_peers_for {
    ($t:ty) => {
        impl PeerFloat for $t {
            fn peers() -> Vec<Peer<$t>> {
                #[allow(unused_mut)]
                let mut peers = vec![
                    Peer {
                        name: "naive iter().map(to_f32).sum()",
                        sum_abs: Some(|x: &[$t]| {
                            f64::from(x.iter().map(|v| v.to_f32().abs()).sum::<f32>())
                        }),
                        sum_sq: Some(|x: &[$t]| {
                            f64::from(x.iter().map(|v| v.to_f32() * v.to_f32()).sum::<f32>())
                        }),
                    },
                    Peer {
                        name: "half to_f32_vec + ndarray",
                        sum_abs: Some(|x: &[$t]| {
                            let w = half::slice::HalfFloatSliceExt::to_f32_vec(x);
                            f64::from(ArrayView1::from(&w[..]).mapv(f32::abs).sum())
                        }),
                        sum_sq: Some(|x: &[$t]| {
                            let w = half::slice::HalfFloatSliceExt::to_f32_vec(x);
                            let a = ArrayView1::from(&w[..]);
                            f64::from(a.dot(&a))
                        }),
                    },
                ];
                #[cfg(feature = "faer")]
                peers.push(Peer {
                    name: "half to_f32_vec + faer",
                    sum_abs: Some(|x: &[$t]| {
                        let w = half::slice::HalfFloatSliceExt::to_f32_vec(x);
                        f64::from(ColRef::from_slice(&w[..]).norm_l1())
                    }),
                    sum_sq: Some(|x: &[$t]| {
                        let w = half::slice::HalfFloatSliceExt::to_f32_vec(x);
                        f64::from(ColRef::from_slice(&w[..]).squared_norm_l2())
                    }),
                });
                #[cfg(feature = "openblas")]
                peers.push(Peer {
                    name: "half to_f32_vec + openblas, threaded",
                    sum_abs: Some(|x: &[$t]| {
                        let w = half::slice::HalfFloatSliceExt::to_f32_vec(x);
                        openblas::all_threads(|| openblas::sasum(&w))
                    }),
                    sum_sq: Some(|x: &[$t]| {
                        let w = half::slice::HalfFloatSliceExt::to_f32_vec(x);
                        openblas::all_threads(|| openblas::sdot(&w))
                    }),
                });
                peers
            }
        }
    };
}

half_peers_for!(half::bf16);
half_peers_for!(half::f16);

/// The system OpenBLAS through its CBLAS interface.
#[cfg(feature = "openblas")]
mod openblas {
    use core::ffi::c_int;

    #[link(name = "openblas")]
    unsafe extern "C" {
        fn openblas_set_num_threads(n: c_int);
        fn openblas_get_num_threads() -> c_int;
        fn cblas_sasum(n: c_int, x: *const f32, incx: c_int) -> f32;
        fn cblas_dasum(n: c_int, x: *const f64, incx: c_int) -> f64;
        fn cblas_sdot(n: c_int, x: *const f32, incx: c_int, y: *const f32, incy: c_int) -> f32;
        fn cblas_ddot(n: c_int, x: *const f64, incx: c_int, y: *const f64, incy: c_int) -> f64;
        fn cblas_snrm2(n: c_int, x: *const f32, incx: c_int) -> f32;
        fn cblas_dnrm2(n: c_int, x: *const f64, incx: c_int) -> f64;
    }

    /// The threads OpenBLAS uses by default (all cores, unless
    /// `OPENBLAS_NUM_THREADS` says otherwise), read before any change.
    fn default_threads() -> c_int {
        static DEFAULT: std::sync::OnceLock<c_int> = std::sync::OnceLock::new();
        // SAFETY: a query with no arguments.
        *DEFAULT.get_or_init(|| unsafe { openblas_get_num_threads() })
    }

    /// Runs `f` with OpenBLAS on one thread (a no-op once it already is).
    pub fn one_thread(f: impl FnOnce() -> f64) -> f64 {
        default_threads();
        // SAFETY: sets a global thread count, no memory is passed.
        unsafe { openblas_set_num_threads(1) };
        f()
    }

    /// Runs `f` with OpenBLAS on its default number of threads.
    pub fn all_threads(f: impl FnOnce() -> f64) -> f64 {
        // SAFETY: sets a global thread count, no memory is passed.
        unsafe { openblas_set_num_threads(default_threads()) };
        f()
    }

    /// The slice length as CBLAS's `int` (the benches stay far below 2³¹).
    fn n<T>(x: &[T]) -> c_int {
        c_int::try_from(x.len()).expect("slice too long for CBLAS")
    }

    pub fn sasum(x: &[f32]) -> f64 {
        // SAFETY: CBLAS reads exactly n(x) elements with stride 1 from x.
        f64::from(unsafe { cblas_sasum(n(x), x.as_ptr(), 1) })
    }
    pub fn dasum(x: &[f64]) -> f64 {
        // SAFETY: CBLAS reads exactly n(x) elements with stride 1 from x.
        unsafe { cblas_dasum(n(x), x.as_ptr(), 1) }
    }
    pub fn sdot(x: &[f32]) -> f64 {
        // SAFETY: CBLAS reads exactly n(x) elements with stride 1 from x, twice.
        f64::from(unsafe { cblas_sdot(n(x), x.as_ptr(), 1, x.as_ptr(), 1) })
    }
    pub fn ddot(x: &[f64]) -> f64 {
        // SAFETY: CBLAS reads exactly n(x) elements with stride 1 from x, twice.
        unsafe { cblas_ddot(n(x), x.as_ptr(), 1, x.as_ptr(), 1) }
    }
    pub fn snrm2_squared(x: &[f32]) -> f64 {
        // SAFETY: CBLAS reads exactly n(x) elements with stride 1 from x.
        f64::from(unsafe { cblas_snrm2(n(x), x.as_ptr(), 1) }).powi(2)
    }
    pub fn dnrm2_squared(x: &[f64]) -> f64 {
        // SAFETY: CBLAS reads exactly n(x) elements with stride 1 from x.
        unsafe { cblas_dnrm2(n(x), x.as_ptr(), 1) }.powi(2)
    }
}
