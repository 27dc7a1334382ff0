//! Every tier against the scalar reference (bit for bit) and against the
//! exact sums (within the documented bound), over lengths, alignments and
//! hostile values.

mod common;

use common::*;
use proptest::prelude::*;
use regnorm::{Exec, Sums, Tier};

/// Runs every tier on `x` and checks it against the reference and the rules.
fn check_all_tiers<T: TestFloat>(x: &[T]) {
    let reference = reference().sums(x);
    assert_documented(x, reference, &format!("scalar, len {}", x.len()));
    for (tier, exec) in tier_execs() {
        let got = exec.sums(x);
        assert_eq!(
            bits(got),
            bits(reference),
            "{tier} vs scalar, len {}",
            x.len()
        );
        assert_eq!(
            exec.sum_abs(x).to_bits(),
            got.abs.to_bits(),
            "{tier}: sum_abs vs sums"
        );
        assert_eq!(
            exec.sum_sq(x).to_bits(),
            got.sq.to_bits(),
            "{tier}: sum_sq vs sums"
        );
    }
    let dispatched = regnorm::sums(x);
    assert_eq!(
        bits(dispatched),
        bits(reference),
        "dispatched vs scalar, len {}",
        x.len()
    );
}

fn bits(s: Sums) -> (u64, u64) {
    (s.abs.to_bits(), s.sq.to_bits())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn f32_tiers_match_reference_and_bound((v, offset) in offset_vec::<f32>(5000, true)) {
        check_all_tiers(&v[offset..]);
    }

    #[test]
    fn f64_tiers_match_reference_and_bound((v, offset) in offset_vec::<f64>(5000, true)) {
        check_all_tiers(&v[offset..]);
    }

    #[test]
    fn f32_finite_values_stay_within_bound((v, offset) in offset_vec::<f32>(5000, false)) {
        check_all_tiers(&v[offset..]);
    }

    #[test]
    fn f64_finite_values_stay_within_bound((v, offset) in offset_vec::<f64>(5000, false)) {
        check_all_tiers(&v[offset..]);
    }

}

proptest! {
    // Each case runs every tier over up to 300,000 elements: 256 cases in a
    // release build (`.ci/run` runs this file in release), 32 in a debug
    // build so that a plain `cargo test` stays quick.
    #![proptest_config(ProptestConfig {
        cases: if cfg!(debug_assertions) { 32 } else { 256 },
        ..ProptestConfig::default()
    })]

    /// Long inputs cross many blocks and super-chunks.
    #[test]
    fn long_inputs_match(len in 0usize..300_000, offset in 0usize..16, seed in any::<u64>()) {
        let v = Rng(seed | 1).vec_f32(len + offset);
        check_all_tiers(&v[offset..]);
    }
}

/// A model of many tensors (most of at most one super-chunk, so that they
/// share kernel calls; some longer), each starting at any alignment, on
/// every tier and sequential or threaded: the model's sums are the
/// reference's per-tensor sums added in order, and each tensor's norm is
/// its own sum's root.
fn check_model_all_tiers<T: TestFloat>(tensors: &[(Vec<T>, usize)]) {
    let slices: Vec<&[T]> = tensors.iter().map(|(v, o)| &v[*o..]).collect();
    let per_tensor: Vec<Sums> = slices.iter().map(|t| reference().sums(t)).collect();
    let by_hand = per_tensor.iter().fold(Sums::ZERO, |acc, &s| acc + s);
    let norms: Vec<u64> = per_tensor.iter().map(|s| s.sq.sqrt().to_bits()).collect();
    let mut execs = tier_execs();
    execs.push((Tier::best(), Exec::new()));
    execs.push((Tier::Scalar, reference()));
    for (tier, exec) in execs {
        assert_eq!(
            bits(exec.model_sums(&slices)),
            bits(by_hand),
            "{tier}: model of {} tensors",
            slices.len()
        );
        let got: Vec<u64> = exec
            .tensor_norms(&slices)
            .iter()
            .map(|n| n.to_bits())
            .collect();
        assert_eq!(got, norms, "{tier}: per-tensor norms");
    }
}

/// Tensors of 0..=3 × 4,096 elements (up to 12,288: below the 16 Ki `f32`
/// super-chunk, above the 8 Ki `f64` one), now and then one of 40,000.
fn model_strategy<T: TestFloat>() -> impl Strategy<Value = Vec<(Vec<T>, usize)>> {
    let len = prop_oneof![20 => 0usize..300, 5 => 0usize..12_289, 1 => Just(40_000usize)];
    let tensor = (len, 0usize..16)
        .prop_flat_map(|(len, offset)| (mixed_vec::<T>(Just(len + offset), true), Just(offset)));
    prop::collection::vec(tensor, 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn f32_models_match_reference(model in model_strategy::<f32>()) {
        check_model_all_tiers(&model);
    }

    #[test]
    fn f64_models_match_reference(model in model_strategy::<f64>()) {
        check_model_all_tiers(&model);
    }
}

/// Every length from 0 to 1,100 at every start alignment, with values that
/// make any lost or repeated element visible (small powers of two: every
/// partial sum is exact, so every tier must give the exact sums, and a
/// plain running sum in `f64` is the exact reference).
#[test]
fn every_short_length_and_alignment_is_exact() {
    let v: Vec<f32> = (0..1200)
        .map(|i| (1u32 << (i % 8)) as f32 * if i % 3 == 0 { -1.0 } else { 1.0 })
        .collect();
    let w: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
    let mut execs = tier_execs();
    execs.push((Tier::Scalar, reference()));
    for offset in 0..16 {
        for len in 0..=1100 {
            let x = &v[offset..offset + len];
            let exact = Sums {
                abs: x.iter().map(|&a| f64::from(a).abs()).sum(),
                sq: x.iter().map(|&a| f64::from(a) * f64::from(a)).sum(),
            };
            let y = &w[offset..offset + len];
            for (tier, exec) in &execs {
                assert_eq!(exec.sums(x), exact, "{tier} f32 len {len} offset {offset}");
                assert_eq!(exec.sums(y), exact, "{tier} f64 len {len} offset {offset}");
                assert_eq!(exec.sum_abs(x), exact.abs, "{tier} sum_abs len {len}");
                assert_eq!(exec.sum_sq(y), exact.sq, "{tier} sum_sq len {len}");
            }
            assert_eq!(regnorm::sums(x), exact, "dispatched f32 len {len}");
        }
    }
}

/// A NaN or infinity at any position, including the tail lanes and the last
/// element, is seen by every tier.
#[test]
fn specials_are_seen_at_every_position() {
    for len in [1usize, 7, 31, 32, 33, 100, 2047, 2048, 2049, 5000] {
        for pos in [0, len / 2, len - 1] {
            for special in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN] {
                let mut v = vec![0.25f32; len];
                v[pos] = special;
                check_all_tiers(&v);
                let w: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
                check_all_tiers(&w);
            }
        }
    }
}

/// NaN wins over infinity, whatever the order.
#[test]
fn nan_wins_over_inf() {
    for v in [[f32::INFINITY, f32::NAN], [f32::NAN, f32::NEG_INFINITY]] {
        for (tier, exec) in tier_execs() {
            let s = exec.sums(&v);
            assert_eq!(s.abs.to_bits(), f64::NAN.to_bits(), "{tier}");
            assert_eq!(s.sq.to_bits(), f64::NAN.to_bits(), "{tier}");
        }
    }
}

/// Documented overflow: f32 squares above f32::MAX and f32 lanes that
/// overflow give +Inf; the same values in different lanes stay finite.
#[test]
fn f32_overflow_follows_the_documented_rule() {
    let same_lane = [1.9e19f32, 0.0, 0.0];
    assert_eq!(regnorm::sum_sq(&same_lane), f64::INFINITY);
    let mut two_lanes = vec![0.0f32; 64];
    two_lanes[0] = 1.8e19;
    two_lanes[1] = 1.8e19;
    let expected = 2.0 * f64::from(1.8e19f32 * 1.8e19f32);
    assert_eq!(regnorm::sum_sq(&two_lanes), expected);
    // Lane i mod 64 (the f32 lane count): elements 0 and 64 share a lane.
    let mut one_lane = vec![0.0f32; 128];
    one_lane[0] = 1.8e19;
    one_lane[64] = 1.8e19;
    assert_eq!(regnorm::sum_sq(&one_lane), f64::INFINITY);
    assert_eq!(
        regnorm::sum_abs(&[f32::MAX, f32::MAX]),
        2.0 * f64::from(f32::MAX)
    );
    for (_, exec) in tier_execs() {
        assert_eq!(exec.sum_sq(&one_lane), f64::INFINITY);
        assert_eq!(exec.sum_sq(&two_lanes), expected);
    }
}

/// Subnormals: absolute values add exactly; squares underflow to zero in
/// f32, as documented (within n · 2^-150 of the exact sum).
#[test]
fn subnormals_follow_the_documented_rule() {
    let tiny = f32::from_bits(1); // 2^-149
    let v = vec![tiny; 3000];
    for (tier, exec) in tier_execs() {
        assert_eq!(exec.sum_abs(&v), 3000.0 * f64::from(tiny), "{tier}");
        assert_eq!(exec.sum_sq(&v), 0.0, "{tier}");
        assert_documented(&v, exec.sums(&v), tier.name());
    }
    let w: Vec<f64> = vec![f64::from_bits(1); 3000];
    assert_eq!(regnorm::sum_abs(&w), 3000.0 * f64::from_bits(1));
}

/// -0.0 counts as +0.0 and the result is +0.0.
#[test]
fn negative_zero_gives_positive_zero() {
    let v = [-0.0f32; 100];
    for (_, exec) in tier_execs() {
        assert_eq!(exec.sum_abs(&v).to_bits(), 0.0f64.to_bits());
        assert_eq!(exec.sum_sq(&v).to_bits(), 0.0f64.to_bits());
    }
}

/// The error bound holds on inputs built to make f32 lanes round badly:
/// one large value followed by many small ones in the same lane.
#[test]
fn adversarial_rounding_stays_within_bound() {
    let mut v = Vec::new();
    for block in 0..50 {
        for row in 0..64 {
            for lane in 0..32 {
                let big = row == 0 && (lane + block) % 2 == 0;
                v.push(if big {
                    1.0f32
                } else {
                    1.0 / 33_554_432.0 * 1.5
                }); // 1.5 · 2^-25: rounds away
            }
        }
    }
    for (tier, exec) in tier_execs() {
        assert_documented(&v, exec.sums(&v), tier.name());
    }
    let s = reference().sums(&v);
    let exact = exact_sums(&v);
    let err = (s.abs - exact.abs).abs() / exact.abs;
    assert!(
        err > 1e-7,
        "this input must actually lose precision (err {err:e}), else it tests nothing"
    );
}

/// The tiers listed as available include the ones this build and CPU must
/// have; asking for a missing one is an error, not undefined behaviour.
#[test]
fn tier_availability() {
    let tiers = Tier::available();
    assert!(tiers.contains(&Tier::Scalar) && tiers.contains(&Tier::Portable));
    assert_eq!(Tier::best(), *tiers.last().unwrap());
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(
            Tier::Avx.is_available(),
            std::arch::is_x86_feature_detected!("avx")
        );
        assert_eq!(
            Tier::Avx512.is_available(),
            std::arch::is_x86_feature_detected!("avx512f")
        );
    }
    for tier in Tier::ALL {
        match Exec::new().with_tier(tier) {
            Ok(exec) => assert!(tier.is_available() && exec.tier() == tier),
            Err(e) => {
                assert!(!tier.is_available());
                assert_eq!(e, regnorm::Error::TierUnavailable { tier });
            }
        }
    }
}

/// Sums beyond the element type's range, as documented: +Inf exactly when a
/// lane's running sum (or a square) overflows the lane type or the f64
/// total overflows; a total above f32::MAX spread over lanes stays finite.
#[test]
fn sums_beyond_the_range_follow_the_documented_rule() {
    // 64 lanes (the f32 lane count) of 3e38 each: every lane finite, the
    // f64 total 1.9e40.
    let spread = vec![3e38f32; 64];
    // 2 values in one lane (elements 0 and 64): that lane overflows.
    let mut stacked = vec![0.0f32; 128];
    stacked[0] = 3e38;
    stacked[64] = 3e38;
    // f64: the f64 total itself overflows.
    let huge = vec![f64::MAX / 2.0; 4 * 16];
    for (tier, exec) in tier_execs() {
        assert_eq!(exec.sum_abs(&spread), 64.0 * f64::from(3e38f32), "{tier}");
        assert_eq!(exec.sum_abs(&stacked), f64::INFINITY, "{tier}");
        assert_eq!(exec.sum_abs(&huge), f64::INFINITY, "{tier}");
        assert_eq!(exec.sum_sq(&[1e155f64]), f64::INFINITY, "{tier}");
        assert_documented(&spread, exec.sums(&spread), tier.name());
        assert_documented(&stacked, exec.sums(&stacked), tier.name());
    }
}

/// All-subnormal inputs: Σ|x| is exact (additions of subnormals are exact),
/// Σx² underflows to 0, within the documented absolute term.
#[test]
fn all_subnormal_inputs() {
    let x: Vec<f32> = (1..=4000u32)
        .map(|i| f32::from_bits(i % 0x007f_ffff))
        .collect();
    let y: Vec<f64> = (1..=4000u64).map(f64::from_bits).collect();
    let exact_x: f64 = x.iter().map(|&v| f64::from(v)).sum();
    let exact_y = fsum(y.iter().copied());
    for (tier, exec) in tier_execs() {
        assert_eq!(exec.sum_abs(&x), exact_x, "{tier}");
        assert_eq!(exec.sum_sq(&x), 0.0, "{tier}");
        assert_eq!(exec.sum_abs(&y), exact_y, "{tier}");
        assert_eq!(exec.sum_sq(&y), 0.0, "{tier}");
        assert_documented(&x, exec.sums(&x), tier.name());
    }
}
