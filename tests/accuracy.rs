//! The accuracy the README states, checked against exact sums.

mod common;

use common::*;

/// 64 Mi uniform [-1, 1) f32 values: relative error ≤ 2^-24 against the
/// exact sums, for both reductions. The values are multiples of 2^-23, so
/// the exact sums are computed in integers, independently of any float
/// summation.
#[test]
fn sixty_four_mi_uniform_f32_within_two_to_minus_24() {
    let n = 64 << 20;
    let mut rng = Rng(2024);
    let x = rng.vec_f32(n);
    let (mut abs, mut sq) = (0i128, 0i128);
    for &v in &x {
        let k = (v * (1u32 << 23) as f32) as i128; // exact: v = k / 2^23
        abs += k.abs();
        sq += k * k;
    }
    let exact_abs = abs as f64 / 2f64.powi(23);
    let exact_sq = sq as f64 / 2f64.powi(46);
    let got = regnorm::sums(&x);
    let err_abs = (got.abs - exact_abs).abs() / exact_abs;
    let err_sq = (got.sq - exact_sq).abs() / exact_sq;
    println!("64Mi uniform f32: relative error sum_abs {err_abs:.3e}, sum_sq {err_sq:.3e}");
    let target = 2f64.powi(-24);
    assert!(
        err_abs <= target,
        "sum_abs relative error {err_abs:e} > 2^-24"
    );
    assert!(err_sq <= target, "sum_sq relative error {err_sq:e} > 2^-24");
    // And the worst-case bound, with plenty of room.
    assert!(err_abs <= regnorm::relative_error_bound::<f32>(n));
    // Plain f32 accumulation of the same data is far off: the test data
    // really is hard.
    let naive: f32 = x.iter().map(|v| v.abs()).sum();
    assert!((f64::from(naive) - exact_abs).abs() / exact_abs > 1e-3);
}

/// The stated worst-case bound holds on a million random values of mixed
/// magnitudes, for both element types.
#[test]
fn bound_holds_on_mixed_magnitudes() {
    let mut rng = Rng(99);
    let x: Vec<f32> = (0..1_000_000)
        .map(|i| rng.uniform_f32() * 2f32.powi((i % 61) - 30))
        .collect();
    assert_documented(&x, regnorm::sums(&x), "f32 mixed");
    let y: Vec<f64> = x.iter().map(|&v| f64::from(v) * 1.000_000_1).collect();
    assert_documented(&y, regnorm::sums(&y), "f64 mixed");
}

/// The bound function itself: the values the docs quote.
#[test]
fn bound_values_match_the_docs() {
    let f32_bound = regnorm::relative_error_bound::<f32>(1 << 30);
    assert!(f32_bound > 3.81e-6 && f32_bound < 3.82e-6, "{f32_bound:e}");
    let f64_bound = regnorm::relative_error_bound::<f64>(1 << 30);
    assert!(f64_bound > 9.8e-15 && f64_bound < 9.9e-15, "{f64_bound:e}");
    assert!(regnorm::relative_error_bound::<f32>(0) > 0.0);
}
