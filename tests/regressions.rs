//! Inputs the fuzz targets (`fuzz/`) found failing, kept as tests: each
//! names the artifact it came from (also kept as a seed in `fuzz/seeds/`).

mod common;

use common::{TestFloat, tier_execs};
use regnorm::{ElasticNet, Exec, L1, L2, Regularizer};

/// Every tier on one thread, and the default (parallel) executor.
fn execs() -> Vec<Exec> {
    tier_execs()
        .into_iter()
        .map(|(_, exec)| exec)
        .chain([Exec::new()])
        .collect()
}

/// With λ = 0 the proximal step is the identity (a zero stays a zero; the
/// soft threshold turns `-0.0` into `+0.0`), for every valid η however large.
fn assert_identity<T: TestFloat + PartialEq>(before: &[T], after: &[T], what: &str) {
    for (i, (&b, &a)) in before.iter().zip(after).enumerate() {
        let (b64, a64): (f64, f64) = (b.into(), a.into());
        if b64.is_nan() {
            assert!(a64.is_nan(), "{what}: element {i}: NaN must stay NaN");
        } else if b64 == 0.0 {
            assert_eq!(a64, 0.0, "{what}: element {i}: a zero stays a zero");
        } else {
            assert_eq!(a, b, "{what}: element {i}: λ = 0 must leave it unchanged");
        }
    }
}

/// fuzz/artifacts/updates/crash-a57c14dd6eedc06aee2e358222a9db861586aad0:
/// `ElasticNet::new(0.0, 0.5)` and η = 2¹⁰²³ turned finite weights into NaN,
/// because the scale was computed as `1/(1 + (2·η)·λ₂)` and `2·η`
/// overflowed to +Inf, and `Inf·0` is NaN. Now `1/(1 + 2·(η·λ₂))`.
#[test]
fn prox_step_with_zero_strength_and_huge_step_is_the_identity() {
    let eta = f64::from_bits(0x7FE0_0000_0000_0000); // 2¹⁰²³, as found
    let found: Vec<f32> = [
        0xCBCB_CBCBu32,
        0xCBCB_CBCB,
        0xCBCB_CBCB,
        0xCBCB_CBCB,
        0xCBCB_CBCB,
        52171,
    ]
    .into_iter()
    .map(f32::from_bits)
    .collect();
    let mut more: Vec<f32> = (0..1000)
        .map(|i| (i as f32 - 500.0) * 1e-3 * 10f32.powi(i % 70 - 35))
        .collect();
    more.extend([
        f32::MAX,
        -f32::MAX,
        f32::MIN_POSITIVE,
        1e-45,
        -0.0,
        0.0,
        f32::NAN,
    ]);
    for exec in execs() {
        for eta in [eta, f64::MAX, 1e300, 1.0] {
            for w0 in [&found, &more] {
                let what = |name: &str| format!("{exec:?} {name} η={eta:e}");
                for r in [0.0, 0.25, 0.5, 0.75, 1.0] {
                    let en = ElasticNet::new(0.0, r).unwrap().with_exec(exec);
                    step_is_identity(en, w0, eta, &what(&format!("ElasticNet r={r}")));
                }
                step_is_identity(L2::new(0.0).unwrap().with_exec(exec), w0, eta, &what("L2"));
                step_is_identity(L1::new(0.0).unwrap().with_exec(exec), w0, eta, &what("L1"));
                // f64 weights: 2·η overflows there too.
                let w64: Vec<f64> = w0.iter().map(|&v| f64::from(v)).collect();
                step_is_identity(
                    L2::new(0.0).unwrap().with_exec(exec),
                    &w64,
                    eta,
                    &what("L2 f64"),
                );
            }
        }
    }
}

/// Runs `reg`'s proximal step on a copy of `w0` and checks that it is the
/// identity and that the zero count is the output's.
fn step_is_identity<R, T>(reg: R, w0: &[T], eta: f64, what: &str)
where
    R: Regularizer,
    T: TestFloat + PartialEq,
{
    let mut w = w0.to_vec();
    let step = reg.prox_step(&mut w, eta).unwrap();
    assert_identity(w0, &w, what);
    let zeros = w.iter().filter(|&&v| v.into() == 0.0).count();
    assert_eq!(step.zeros, zeros, "{what}: zeros are the output's");
}

/// The same input through the model form, on a rayon worker.
#[test]
fn prox_step_model_with_zero_strength_and_huge_step_is_the_identity() {
    let w0: Vec<f32> = (0..300_000).map(|i| (i % 997) as f32 - 498.0).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let en = ElasticNet::new(0.0, 0.5).unwrap();
    let mut model = vec![w0.clone(), w0.clone()];
    pool.install(|| en.prox_step_model(&mut model, f64::MAX))
        .unwrap();
    for w in &model {
        assert_identity(&w0, w, "prox_step_model");
    }
}
