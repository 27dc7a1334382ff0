//! Shared by the fuzz targets: turning fuzzer bytes into slices of every bit
//! pattern, and the comparisons every target makes.
#![allow(dead_code)]

use regnorm::{Exec, Tier};

/// Element values from raw bits: NaN payloads, subnormals, ±Inf, ±0 all
/// appear as the fuzzer finds them.
pub fn f32s(bits: &[u32]) -> Vec<f32> {
    bits.iter().map(|&b| f32::from_bits(b)).collect()
}

pub fn f64s(bits: &[u64]) -> Vec<f64> {
    bits.iter().map(|&b| f64::from_bits(b)).collect()
}

/// Grows `v` by repeating it up to about `len` elements, so that some inputs
/// cross blocks, super-chunks and the parallel threshold.
pub fn tile<T: Copy>(v: &[T], len: usize) -> Vec<T> {
    if v.is_empty() {
        return Vec::new();
    }
    v.iter().copied().cycle().take(len.max(v.len())).collect()
}

/// Every available tier, sequential, the scalar reference first.
pub fn execs() -> Vec<(Tier, Exec)> {
    Tier::available().into_iter().map(|t| (t, Exec::sequential().with_tier(t).unwrap())).collect()
}

/// A two-thread pool, to run the parallel path from a worker.
pub fn pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap())
}

/// Equal bits, or both NaN (element-wise outputs: NaN payloads are
/// unspecified).
pub fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

pub fn same_slice<T: Copy + Into<f64>>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| same_f64(x.into(), y.into()))
}
