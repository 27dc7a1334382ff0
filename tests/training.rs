//! Training-step kernels: every operation and tier against an independent
//! per-element reference written from the documented formulas, across
//! lengths, alignments, special values and thread counts.

mod common;

use common::*;
use proptest::prelude::*;
use regnorm::{ClipGradNorm, ElasticNet, Error, Exec, L1, L2, Regularizer, Tier, WeightDecay};

/// A regularizer under test, with its documented coefficients.
#[derive(Clone, Copy, Debug)]
enum Reg {
    L1(f64),
    L2(f64),
    En(f64, f64),
}

impl Reg {
    /// (λ₁, λ₂) of λ₁·Σ|w| + λ₂·Σw², `None` for an absent term.
    fn terms(self) -> (Option<f64>, Option<f64>) {
        match self {
            Reg::L1(l) => (Some(l), None),
            Reg::L2(l) => (None, Some(l)),
            Reg::En(l, r) => (
                (r > 0.0).then_some(l * r),
                (r < 1.0).then_some(l * (1.0 - r) / 2.0),
            ),
        }
    }
}

/// The same-bits test for element-wise outputs: equal bits, or both NaN.
fn same<T: TestFloat>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(&x, &y)| {
            let (x, y): (f64, f64) = (x.into(), y.into());
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        })
}

/// sign as documented: ±1, +0 for ±0, NaN for NaN (computed in f64: exact).
fn sign(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Runs `f` with the regularizer `reg` pinned to `exec`.
fn with<R>(reg: Reg, exec: Exec, f: impl FnOnce(&dyn Dyn) -> R) -> R {
    match reg {
        Reg::L1(l) => f(&L1::new(l).unwrap().with_exec(exec)),
        Reg::L2(l) => f(&L2::new(l).unwrap().with_exec(exec)),
        Reg::En(l, r) => f(&ElasticNet::new(l, r).unwrap().with_exec(exec)),
    }
}

/// The regularizer methods used here, object-safe for f32.
trait Dyn {
    fn value(&self, w: &[f32]) -> f64;
    fn grad(&self, w: &[f32], g: &mut [f32]) -> Result<(), Error>;
    fn value_and_grad(&self, w: &[f32], g: &mut [f32]) -> Result<f64, Error>;
    fn prox(&self, w: &mut [f32], eta: f64) -> Result<regnorm::ProxStats, Error>;
}

impl<R: Regularizer> Dyn for R {
    fn value(&self, w: &[f32]) -> f64 {
        self.penalty(w)
    }
    fn grad(&self, w: &[f32], g: &mut [f32]) -> Result<(), Error> {
        self.add_gradient(w, g)
    }
    fn value_and_grad(&self, w: &[f32], g: &mut [f32]) -> Result<f64, Error> {
        self.penalty_and_gradient(w, g)
    }
    fn prox(&self, w: &mut [f32], eta: f64) -> Result<regnorm::ProxStats, Error> {
        self.prox_step(w, eta)
    }
}

/// The documented gradient update of one f32 element.
fn reference_gradient(reg: Reg, w: f32, g: f32) -> f32 {
    let (l1, l2) = reg.terms();
    let a = l1.map(|l| l as f32);
    let b = l2.map(|l| (2.0 * l) as f32);
    let s = sign(f64::from(w)) as f32;
    // The L1 term added (a·s is exact), then the L2 term fused: one rounding.
    let g = a.map_or(g, |a| g + a * s);
    b.map_or(g, |b| b.mul_add(w, g))
}

/// The documented proximal step of one f32 element.
fn reference_prox(reg: Reg, eta: f64, w: f32) -> f32 {
    let (l1, l2) = reg.terms();
    let mut v = w;
    if let Some(l1) = l1 {
        let t = (eta * l1) as f32;
        v = if v.is_nan() {
            v
        } else if v.abs() > t {
            (v.abs() - t).copysign(v)
        } else {
            0.0
        };
    }
    if let Some(l2) = l2 {
        v *= (1.0 / (1.0 + 2.0 * eta * l2)) as f32;
    }
    v
}

fn regs() -> impl Strategy<Value = Reg> {
    prop_oneof![
        (0.0f64..2.0).prop_map(Reg::L1),
        (0.0f64..2.0).prop_map(Reg::L2),
        (0.0f64..2.0, 0.0f64..=1.0).prop_map(|(l, r)| Reg::En(l, r)),
        (0.0f64..2.0).prop_map(|l| Reg::En(l, 1.0)),
        (0.0f64..2.0).prop_map(|l| Reg::En(l, 0.0)),
    ]
}

/// Mostly up to 3,000 elements, sometimes up to 12,000: several blocks of
/// the canonical order, which the AVX-512 tier reads two at a time.
fn long_or_short<T: TestFloat>() -> impl Strategy<Value = (Vec<T>, usize)> {
    prop_oneof![4 => offset_vec::<T>(3000, true), 1 => offset_vec::<T>(12_000, true)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// add_gradient and penalty_and_gradient: every tier equals the
    /// per-element reference, and the fused call equals the separate ones.
    #[test]
    fn gradient_every_tier_matches_reference(
        reg in regs(),
        (w, ow) in long_or_short::<f32>(),
        g_seed in any::<u64>(),
        og in 0usize..16,
    ) {
        let w = &w[ow..];
        let mut rng = Rng(g_seed | 1);
        let g_buf: Vec<f32> = (0..w.len() + og).map(|_| rng.uniform_f32() * 4.0).collect();
        let g0 = &g_buf[og..];
        let expected: Vec<f32> = w.iter().zip(g0).map(|(&w, &g)| reference_gradient(reg, w, g)).collect();
        let penalty = with(reg, reference(), |r| r.value(w));
        for (tier, exec) in tier_execs() {
            let mut g = g0.to_vec();
            with(reg, exec, |r| r.grad(w, &mut g)).unwrap();
            prop_assert!(same(&g, &expected), "{tier} add_gradient {reg:?}");
            let mut fused = g0.to_vec();
            let p = with(reg, exec, |r| r.value_and_grad(w, &mut fused)).unwrap();
            prop_assert!(same(&fused, &expected), "{tier} fused gradient {reg:?}");
            prop_assert!(p.to_bits() == penalty.to_bits() || (p.is_nan() && penalty.is_nan()), "{tier} fused penalty {p} vs {penalty}");
        }
    }

    /// prox_step: every tier equals the per-element reference; the penalty
    /// and zero count it returns are those of the new weights.
    #[test]
    fn prox_every_tier_matches_reference(
        reg in regs(),
        eta in prop_oneof![0.0f64..3.0, Just(0.0)],
        (w, ow) in long_or_short::<f32>(),
    ) {
        let w0 = &w[ow..];
        let expected: Vec<f32> = w0.iter().map(|&w| reference_prox(reg, eta, w)).collect();
        let zeros = expected.iter().filter(|&&v| v == 0.0).count();
        let penalty = with(reg, reference(), |r| r.value(&expected));
        for (tier, exec) in tier_execs() {
            let mut w = w0.to_vec();
            let step = with(reg, exec, |r| r.prox(&mut w, eta)).unwrap();
            prop_assert!(same(&w, &expected), "{tier} prox {reg:?} eta {eta}");
            prop_assert_eq!(step.zeros, zeros, "{} zeros", tier);
            prop_assert!(step.penalty.to_bits() == penalty.to_bits() || (step.penalty.is_nan() && penalty.is_nan()));
        }
    }

    /// Weight decay and clipping's scaling: every tier equals w·c.
    #[test]
    fn decay_every_tier_matches_reference(
        lambda in 0.0f64..1.0,
        eta in 0.0f64..1.0,
        (w, ow) in long_or_short::<f64>(),
    ) {
        let w0 = &w[ow..];
        let c = 1.0 - eta * lambda;
        let expected: Vec<f64> = w0.iter().map(|&w| w * c).collect();
        for (tier, exec) in tier_execs() {
            let mut w = w0.to_vec();
            WeightDecay::new(lambda).unwrap().with_exec(exec).apply(&mut w, eta).unwrap();
            prop_assert!(same(&w, &expected), "{tier} decay");
        }
    }

    /// Clipping: the norm is √(model Σg²); below the threshold nothing
    /// changes; above it every element is scaled by max/(norm + 1e-6).
    #[test]
    fn clip_every_tier_matches_reference(
        max_norm in 0.0f64..50.0,
        (g, og) in offset_vec::<f32>(2000, false),
        split in 0usize..2000,
    ) {
        let g0 = &g[og..];
        let split = split.min(g0.len());
        let norm = regnorm::Exec::sequential().model_sums([&g0[..split], &g0[split..]]).sq.sqrt();
        let c = (max_norm / (norm + 1e-6)) as f32;
        for (tier, exec) in tier_execs() {
            let mut model = vec![g0[..split].to_vec(), g0[split..].to_vec()];
            let got = ClipGradNorm::new(max_norm).unwrap().with_exec(exec).clip_model(&mut model).unwrap();
            prop_assert_eq!(got.to_bits(), norm.to_bits(), "{} norm", tier);
            let flat: Vec<f32> = model.concat();
            if norm > max_norm {
                let expected: Vec<f32> = g0.iter().map(|&v| v * c).collect();
                prop_assert!(same(&flat, &expected), "{tier} clipped");
            } else {
                prop_assert!(same(&flat, g0), "{tier} must be untouched below the threshold");
            }
        }
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// A model of large and small tensors, params and grads.
fn model(seed: u64) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut rng = Rng(seed);
    let shapes = [700_001usize, 3, 64, 0, 150_000, 1000, 1, 300_007, 512];
    let params = shapes.iter().map(|&n| rng.vec_f32(n)).collect();
    let grads = shapes.iter().map(|&n| rng.vec_f32(n)).collect();
    (params, grads)
}

/// Model calls: every thread count gives the bits of the sequential call,
/// which are those of the single-tensor calls done one by one.
#[test]
fn model_calls_same_bits_for_1_2_3_8_threads() {
    let (params, grads0) = model(21);
    for reg in [Reg::L1(0.01), Reg::L2(0.02), Reg::En(0.03, 0.3)] {
        // One tensor at a time, sequential: the definition.
        let mut grads_ref = grads0.clone();
        let mut penalty_sums = regnorm::Sums::ZERO;
        for (w, g) in params.iter().zip(&mut grads_ref) {
            with(reg, Exec::sequential(), |r| r.grad(w, g)).unwrap();
            penalty_sums = penalty_sums + Exec::sequential().sums(w);
        }
        let mut prox_ref = params.clone();
        let mut zeros_ref = 0;
        for w in &mut prox_ref {
            zeros_ref += with(reg, Exec::sequential(), |r| r.prox(w, 0.5))
                .unwrap()
                .zeros;
        }
        for threads in [1, 2, 3, 8] {
            let p = pool(threads);
            let (mut grads, mut prox) = (grads0.clone(), params.clone());
            let (penalty, step) = p.install(|| match reg {
                Reg::L1(l) => run_model(&L1::new(l).unwrap(), &params, &mut grads, &mut prox),
                Reg::L2(l) => run_model(&L2::new(l).unwrap(), &params, &mut grads, &mut prox),
                Reg::En(l, r) => run_model(
                    &ElasticNet::new(l, r).unwrap(),
                    &params,
                    &mut grads,
                    &mut prox,
                ),
            });
            assert_eq!(grads, grads_ref, "{threads} threads {reg:?}");
            assert_eq!(prox, prox_ref, "{threads} threads {reg:?}");
            assert_eq!(step.zeros, zeros_ref);
            // The model penalty from the definition: f64 sums in order.
            let expected_penalty = match reg {
                Reg::L1(l) => l * penalty_sums.abs,
                Reg::L2(l) => l * penalty_sums.sq,
                Reg::En(l, r) => l * (r * penalty_sums.abs + (1.0 - r) / 2.0 * penalty_sums.sq),
            };
            assert_eq!(
                penalty.to_bits(),
                expected_penalty.to_bits(),
                "{threads} threads {reg:?}"
            );
        }
    }
}

fn run_model<R: Regularizer>(
    r: &R,
    params: &[Vec<f32>],
    grads: &mut [Vec<f32>],
    prox: &mut [Vec<f32>],
) -> (f64, regnorm::ProxStats) {
    let penalty = r
        .penalty_and_gradient_model(params, grads.iter_mut())
        .unwrap();
    let step = r.prox_step_model(prox.iter_mut(), 0.5).unwrap();
    (penalty, step)
}

/// Clipping and decay over models: same bits for every thread count.
#[test]
fn clip_and_decay_same_bits_for_1_2_3_8_threads() {
    let (_, grads0) = model(22);
    let mut reference = grads0.clone();
    let norm_ref = ClipGradNorm::new(1.0)
        .unwrap()
        .with_exec(Exec::sequential())
        .clip_model(&mut reference)
        .unwrap();
    assert!(norm_ref > 1.0, "the test model must be clipped");
    let mut decayed_ref = grads0.clone();
    WeightDecay::new(0.1)
        .unwrap()
        .with_exec(Exec::sequential())
        .apply_model(&mut decayed_ref, 0.5)
        .unwrap();
    let norms_ref = Exec::sequential().tensor_norms(&grads0);
    for threads in [1, 2, 3, 8] {
        let p = pool(threads);
        let mut g = grads0.clone();
        let norm = p
            .install(|| ClipGradNorm::new(1.0).unwrap().clip_model(&mut g))
            .unwrap();
        assert_eq!(norm.to_bits(), norm_ref.to_bits());
        assert_eq!(g, reference, "{threads} threads");
        let mut d = grads0.clone();
        p.install(|| WeightDecay::new(0.1).unwrap().apply_model(&mut d, 0.5))
            .unwrap();
        assert_eq!(d, decayed_ref);
        assert_eq!(p.install(|| Exec::new().tensor_norms(&grads0)), norms_ref);
    }
    // The total is the norm of the per-tensor norms' squares, summed in order.
    let from_norms = norms_ref
        .iter()
        .map(|n| n * n)
        .fold(0.0, |a, b| a + b)
        .sqrt();
    assert!((from_norms - norm_ref).abs() <= 1e-12 * norm_ref);
}

/// Shape errors name the tensor and both lengths, and nothing is written.
#[test]
fn mismatched_shapes_are_errors_and_write_nothing() {
    let params = vec![vec![1.0f32; 4], vec![1.0f32; 3]];
    let mut grads = vec![vec![0.0f32; 4], vec![0.0f32; 2]];
    let l1 = L1::new(0.1).unwrap();
    assert_eq!(
        l1.add_gradient_model(&params, &mut grads),
        Err(Error::LengthMismatch {
            index: 1,
            params: 3,
            grads: 2
        })
    );
    assert_eq!(
        grads,
        vec![vec![0.0f32; 4], vec![0.0f32; 2]],
        "nothing written, not even tensor 0"
    );
    assert_eq!(
        l1.penalty_and_gradient_model(&params, &mut grads[..1]),
        Err(Error::TensorCountMismatch {
            params: 2,
            grads: 1
        })
    );
    assert_eq!(grads[0], vec![0.0f32; 4]);
    let e = l1.add_gradient(&params[1], &mut grads[1]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor 0: parameters have 3 elements but gradients 2: they must match"
    );
    assert!(
        L2::new(0.1)
            .unwrap()
            .penalty_and_gradient(&params[0], &mut grads[1])
            .is_err()
    );
}

#[test]
fn invalid_step_and_max_norm_are_errors() {
    let mut w = vec![1.0f32, -2.0];
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            L1::new(0.1).unwrap().prox_step(&mut w, bad),
            Err(Error::InvalidStep { .. })
        ));
        assert!(matches!(
            L2::new(0.1).unwrap().prox_step_model(vec![&mut w[..]], bad),
            Err(Error::InvalidStep { .. })
        ));
        assert!(matches!(
            WeightDecay::new(0.1).unwrap().apply(&mut w, bad),
            Err(Error::InvalidStep { .. })
        ));
        assert!(matches!(
            WeightDecay::new(0.1)
                .unwrap()
                .apply_model(vec![&mut w[..]], bad),
            Err(Error::InvalidStep { .. })
        ));
    }
    assert_eq!(w, vec![1.0f32, -2.0], "nothing written");
    for bad in [-0.5, f64::NAN, f64::NEG_INFINITY] {
        assert!(matches!(
            ClipGradNorm::new(bad),
            Err(Error::InvalidMaxNorm { .. })
        ));
    }
    assert!(ClipGradNorm::new(f64::INFINITY).is_ok() && ClipGradNorm::new(0.0).is_ok());
}

#[test]
fn clipping_non_finite_norms() {
    // An error if asked, with nothing changed.
    let strict = ClipGradNorm::new(1.0).unwrap().error_if_nonfinite(true);
    let mut g = vec![vec![1.0f32, f32::NAN], vec![2.0]];
    let before = g.clone();
    match strict.clip_model(&mut g) {
        Err(Error::NonFiniteNorm { total }) => assert!(total.is_nan()),
        other => panic!("expected NonFiniteNorm, got {other:?}"),
    }
    assert!(same(&g.concat(), &before.concat()));
    // Otherwise propagated as PyTorch does: Inf total scales by 0, NaN by NaN.
    let lax = ClipGradNorm::new(1.0).unwrap();
    let mut g = vec![vec![1.0f32, f32::INFINITY], vec![-2.0]];
    assert_eq!(lax.clip_model(&mut g).unwrap(), f64::INFINITY);
    assert_eq!(g[0][0], 0.0);
    assert!(g[0][1].is_nan());
    assert_eq!(g[1][0], -0.0);
    let mut g = vec![1.0f32, f32::NAN];
    assert!(lax.clip(&mut g).unwrap().is_nan());
    assert!(g.iter().all(|v| v.is_nan()));
    // Squares that overflow f32 give an infinite norm even though f64 could
    // hold it (documented: lanes accumulate in the element type).
    let mut g = vec![3e19f32; 2];
    assert_eq!(lax.clip(&mut g).unwrap(), f64::INFINITY);
}

#[test]
fn gradient_and_prox_edge_values() {
    let w = [
        0.0f32,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e-45,
        -1e-45,
    ];
    let mut g = [0.0f32; 7];
    L1::new(0.5).unwrap().add_gradient(&w, &mut g).unwrap();
    assert_eq!(
        g[..2],
        [0.0, 0.0],
        "sign(±0) = 0: zero weights get no L1 push"
    );
    assert!(g[2].is_nan());
    assert_eq!(g[3..], [0.5, -0.5, 0.5, -0.5]);
    let mut g = [0.0f32; 7];
    L2::new(0.5).unwrap().add_gradient(&w, &mut g).unwrap();
    assert_eq!(g[3], f32::INFINITY);
    assert_eq!(g[5], 1e-45);
    let mut p = w;
    let step = L1::new(0.5).unwrap().prox_step(&mut p, 1.0).unwrap();
    assert!(p[2].is_nan(), "NaN stays NaN");
    assert_eq!(p[3], f32::INFINITY);
    assert_eq!(p[4], f32::NEG_INFINITY);
    assert_eq!(
        (
            p[0].to_bits(),
            p[1].to_bits(),
            p[5].to_bits(),
            p[6].to_bits()
        ),
        (0, 0, 0, 0),
        "thresholded to +0"
    );
    assert_eq!(step.zeros, 4);
    assert!(step.penalty.is_nan());
    // η = 0 is the identity for L1 and L2 (up to -0 → +0 for L1).
    let mut q = [1.5f32, -2.5];
    assert_eq!(
        ElasticNet::new(1.0, 0.5)
            .unwrap()
            .prox_step(&mut q, 0.0)
            .unwrap()
            .zeros,
        0
    );
    assert_eq!(q, [1.5, -2.5]);
    // Every tier agrees on these.
    for tier in Tier::available() {
        let exec = Exec::sequential().with_tier(tier).unwrap();
        let mut p2 = w;
        L1::new(0.5)
            .unwrap()
            .with_exec(exec)
            .prox_step(&mut p2, 1.0)
            .unwrap();
        assert!(same(&p2, &p), "{tier}");
    }
}
