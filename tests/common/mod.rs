//! Test helpers: an exact reference sum, deterministic data, value mixes.
#![allow(dead_code)]

use proptest::prelude::*;
use regnorm::{Element, Exec, Sums, Tier};

/// The exactly rounded sum of `terms` (Shewchuk's algorithm, as Python's
/// `math.fsum`); `+Inf` if the exact sum of finite terms overflows or a term
/// is `+Inf`.
pub fn fsum(terms: impl IntoIterator<Item = f64>) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for mut x in terms {
        if x.is_infinite() {
            return f64::INFINITY;
        }
        let mut i = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                core::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            if hi.is_infinite() {
                return f64::INFINITY;
            }
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        partials.truncate(i);
        partials.push(x);
    }
    let Some(mut hi) = partials.pop() else {
        return 0.0;
    };
    let mut lo = 0.0;
    while let Some(y) = partials.pop() {
        let x = hi;
        hi = x + y;
        lo = y - (hi - x);
        if lo != 0.0 {
            break;
        }
    }
    if let Some(&last) = partials.last()
        && ((lo < 0.0 && last < 0.0) || (lo > 0.0 && last > 0.0))
    {
        let y = lo * 2.0;
        let x = hi + y;
        if y == x - hi {
            hi = x;
        }
    }
    hi
}

/// Element types under test, with what the reference needs of them.
pub trait TestFloat: Element + Copy + Into<f64> + core::fmt::Debug {
    /// The largest finite value.
    const MAX: f64;
    /// Half the smallest subnormal: the largest absolute error of one
    /// rounding in the subnormal range.
    const HALF_MIN_SUBNORMAL: f64;
    fn from_f64(v: f64) -> Self;
    fn from_bits_u64(bits: u64) -> Self;
}

impl TestFloat for f32 {
    const MAX: f64 = f32::MAX as f64;
    const HALF_MIN_SUBNORMAL: f64 = 7.006492321624085e-46; // 2^-150
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn from_bits_u64(bits: u64) -> f32 {
        f32::from_bits(bits as u32)
    }
}

impl TestFloat for f64 {
    const MAX: f64 = f64::MAX;
    const HALF_MIN_SUBNORMAL: f64 = 0.0; // 2^-1075 underflows; bound below
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn from_bits_u64(bits: u64) -> f64 {
        f64::from_bits(bits)
    }
}

/// The exact Σ|x| and Σx² of finite `x`, each rounded once to `f64`.
pub fn exact_sums<T: TestFloat>(x: &[T]) -> Sums {
    let abs = fsum(x.iter().map(|&v| v.into().abs()));
    // x² as the unevaluated sum p + e with p = fl(x²), e = x² − p exactly
    // (for f32 inputs e is 0: 24-bit mantissas square exactly in f64).
    let sq = fsum(x.iter().flat_map(|&v| {
        let v: f64 = v.into();
        let p = v * v;
        let e = if p.is_finite() { v.mul_add(v, -p) } else { 0.0 };
        [p, e]
    }));
    Sums { abs, sq }
}

/// Asserts that `got` obeys the documented rules for `x`: NaN if any NaN,
/// else +Inf if any ±Inf, else within the error bound of the exact sums
/// (or +Inf only when the exact sum is at the edge of `T`'s range).
pub fn assert_documented<T: TestFloat>(x: &[T], got: Sums, what: &str) {
    let values: Vec<f64> = x.iter().map(|&v| v.into()).collect();
    if values.iter().any(|v| v.is_nan()) {
        assert!(
            got.abs.is_nan() && got.sq.is_nan(),
            "{what}: NaN input must give NaN, got {got:?}"
        );
        assert_eq!(
            got.abs.to_bits(),
            f64::NAN.to_bits(),
            "{what}: NaN must be canonical"
        );
        return;
    }
    if values.iter().any(|v| v.is_infinite()) {
        assert_eq!(got.abs, f64::INFINITY, "{what}: Inf input must give +Inf");
        assert_eq!(got.sq, f64::INFINITY, "{what}: Inf input must give +Inf");
        return;
    }
    let exact = exact_sums(x);
    let rel = regnorm::relative_error_bound::<T>(x.len());
    // f64 squares below 2^-1022 lose bits too; bound them by the same
    // half-subnormal rule (2^-1075 per term, far below any other term).
    let underflow = x.len() as f64 * T::HALF_MIN_SUBNORMAL.max(f64::from_bits(1));
    check_one(
        got.abs,
        exact.abs,
        rel,
        0.0,
        T::MAX,
        &format!("{what}: sum_abs"),
    );
    check_one(
        got.sq,
        exact.sq,
        rel,
        underflow,
        T::MAX,
        &format!("{what}: sum_sq"),
    );
}

fn check_one(got: f64, exact: f64, rel: f64, abs_extra: f64, max: f64, what: &str) {
    if got.is_infinite() {
        assert!(
            exact >= max * (1.0 - rel),
            "{what}: +Inf although the exact sum {exact:e} is well inside the range"
        );
    } else {
        assert!(got >= 0.0, "{what}: negative sum {got:e}");
        let err = (got - exact).abs();
        assert!(
            err <= rel * exact + abs_extra,
            "{what}: got {got:e}, exact {exact:e}: error {err:e} above bound {:e}",
            rel * exact + abs_extra
        );
    }
}

/// Every available tier, pinned, sequential.
pub fn tier_execs() -> Vec<(Tier, Exec)> {
    Tier::available()
        .into_iter()
        .map(|t| (t, Exec::sequential().with_tier(t).unwrap()))
        .collect()
}

/// The scalar reference, sequential.
pub fn reference() -> Exec {
    Exec::sequential().with_tier(Tier::Scalar).unwrap()
}

/// A small deterministic generator (xorshift64*), for large inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [-1, 1), a multiple of 2^-24 (exact in f32).
    pub fn uniform_f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as i64 - (1 << 23)) as f32 / (1u32 << 23) as f32
    }
    pub fn vec_f32(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform_f32()).collect()
    }
    pub fn vec_f64(&mut self, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
            .collect()
    }
}

/// Finite values at the edges of the documented rules.
fn edges<T: TestFloat>() -> [f64; 13] {
    [
        0.0,
        -0.0,
        1.0,
        -1.0,
        T::MAX,
        -T::MAX,
        1.8e19,
        -1.9e19,
        1e-40,
        -1e-45,
        f64::from(f32::MIN_POSITIVE),
        1e-300,
        1e300,
    ]
}

impl Rng {
    /// One value from a mix that stresses every documented rule: ordinary
    /// values, scaled ones, any finite bit pattern (NaN payloads,
    /// subnormals, huge), the edges and, if allowed, NaN, ±Inf and any bit
    /// pattern at all. Drawn here rather than by a proptest strategy per
    /// element: the same mix, about 20 times cheaper in a debug build.
    pub fn mixed<T: TestFloat>(&mut self, allow_nonfinite: bool) -> T {
        let unit = |r: &mut Rng| (r.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
        // Weights out of 77 (with non-finite values) or 95 (without).
        let (ordinary, scaled, finite_bits, edge, special) = if allow_nonfinite {
            (40, 20, 10, 5, 1)
        } else {
            (50, 25, 15, 5, 0)
        };
        let total = ordinary + scaled + finite_bits + edge + 2 * special;
        let mut pick = self.next_u64() % total;
        if pick < ordinary {
            return T::from_f64(unit(self));
        }
        pick -= ordinary;
        if pick < scaled {
            let e = (self.next_u64() % 80) as i32 - 40;
            return T::from_f64(unit(self) * 2f64.powi(e));
        }
        pick -= scaled;
        if pick < finite_bits {
            loop {
                let v = T::from_bits_u64(self.next_u64());
                if v.into().is_finite() {
                    return v;
                }
            }
        }
        pick -= finite_bits;
        if pick < edge {
            let edges = edges::<T>();
            return T::from_f64(edges[(self.next_u64() % edges.len() as u64) as usize]);
        }
        pick -= edge;
        if pick < special {
            let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
            return T::from_f64(specials[(self.next_u64() % 3) as usize]);
        }
        T::from_bits_u64(self.next_u64())
    }

    /// `n` values of [`Rng::mixed`].
    pub fn mixed_vec<T: TestFloat>(&mut self, n: usize, allow_nonfinite: bool) -> Vec<T> {
        (0..n).map(|_| self.mixed(allow_nonfinite)).collect()
    }
}

/// A vector of `len` values of [`Rng::mixed`], drawn from a seed.
pub fn mixed_vec<T: TestFloat>(
    len: impl Strategy<Value = usize>,
    allow_nonfinite: bool,
) -> impl Strategy<Value = Vec<T>> {
    (len, any::<u64>()).prop_map(move |(n, seed)| Rng(seed | 1).mixed_vec(n, allow_nonfinite))
}

/// A vector of up to `max_len` values with a start offset of 0..16
/// elements, so the slice `v[offset..]` starts at every alignment.
pub fn offset_vec<T: TestFloat>(
    max_len: usize,
    allow_nonfinite: bool,
) -> impl Strategy<Value = (Vec<T>, usize)> {
    (0usize..16).prop_flat_map(move |offset| {
        (
            mixed_vec::<T>(offset..=offset + max_len, allow_nonfinite),
            Just(offset),
        )
    })
}
