//! Gradients, the fused penalty + gradient, proximal steps, weight decay and
//! clipping, from arbitrary weights, gradients, λ, η and max_norm: every tier
//! and thread path gives the scalar reference's results (NaN payloads
//! aside), the fused call equals the separate ones, the zero count is the
//! output's, bad arguments and mismatched shapes are errors that write
//! nothing, and nothing panics.
#![no_main]

#[path = "common.rs"]
mod common;

use common::*;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use regnorm::{ClipGradNorm, ElasticNet, Error, Exec, Regularizer, WeightDecay};

#[derive(Arbitrary, Debug)]
struct Input {
    lambda: u64,
    ratio: u8,
    eta: u64,
    max_norm: u64,
    strict: bool,
    /// Gradients shorter or longer than the weights, to test the checks.
    grad_len_delta: i8,
    offset: u8,
    w: Vec<u32>,
    g: Vec<u32>,
}

fuzz_target!(|input: Input| {
    let offset = usize::from(input.offset % 16);
    let w_all = f32s(&input.w);
    let w = &w_all[offset.min(w_all.len())..];
    let g_len = (w.len() as isize + isize::from(input.grad_len_delta % 3)).max(0) as usize;
    let g0: Vec<f32> = (0..g_len).map(|i| f32::from_bits(*input.g.get(i).unwrap_or(&0x3f80_0000))).collect();
    let lambda = f64::from_bits(input.lambda);
    let eta = f64::from_bits(input.eta);
    let ratio = f64::from(input.ratio % 5) / 4.0; // 0, 0.25, ... 1: both ends included
    let Ok(en) = ElasticNet::new(lambda, ratio) else {
        assert!(!(lambda.is_finite() && lambda >= 0.0));
        return;
    };

    // The half types: the same bits as bf16 and f16 weights and gradients.
    let halves = |v: &[u32]| -> Vec<u16> { v.iter().flat_map(|b| [*b as u16, (b >> 16) as u16]).collect() };
    let (wh, gh) = (halves(&input.w), halves(&input.g));
    let n = wh.len().min(gh.len());
    check_half(en, eta, &wh[..n], &gh[..n], half::bf16::from_bits, |h| h.to_f32(), half::bf16::from_f32);
    check_half(en, eta, &wh[..n], &gh[..n], half::f16::from_bits, |h| h.to_f32(), half::f16::from_f32);

    // Gradients: shape checks first, nothing written on error.
    let reference = en.with_exec(execs()[0].1);
    let mut g_ref = g0.clone();
    let res = reference.add_gradient(w, &mut g_ref);
    if g0.len() != w.len() {
        assert_eq!(res, Err(Error::LengthMismatch { index: 0, params: w.len(), grads: g0.len() }));
        assert!(same_slice(&g_ref, &g0), "nothing written on a shape error");
        let mut g = g0.clone();
        assert!(en.penalty_and_gradient_model([w], [&mut g[..]]).is_err());
        assert!(en.add_gradient_model([w, w], [&mut g[..]]).is_err());
        assert!(same_slice(&g, &g0));
        return;
    }
    res.unwrap();
    let penalty_ref = reference.penalty(w);
    for (tier, exec) in execs().into_iter().chain([(regnorm::Tier::best(), Exec::new())]) {
        let r = en.with_exec(exec);
        let mut g = g0.clone();
        r.add_gradient(w, &mut g).unwrap();
        assert!(same_slice(&g, &g_ref), "{tier} add_gradient");
        let mut fused = g0.clone();
        let p = r.penalty_and_gradient(w, &mut fused).unwrap();
        assert!(same_slice(&fused, &g_ref) && same_f64(p, penalty_ref), "{tier} fused");
    }

    // Proximal step: an invalid η is an error that writes nothing.
    let mut w_ref = w.to_vec();
    match reference.prox_step(&mut w_ref, eta) {
        Err(e) => {
            assert!(matches!(e, Error::InvalidStep { .. }) && !(eta.is_finite() && eta >= 0.0));
            assert!(same_slice(&w_ref, w));
        }
        Ok(step) => {
            assert_eq!(step.zeros, w_ref.iter().filter(|&&v| v == 0.0).count(), "zeros are the output's");
            assert!(same_f64(step.penalty, reference.penalty(&w_ref)), "penalty after the step");
            // NaN stays NaN, a finite weight never becomes NaN, and an exact
            // zero stays zero. (An infinite weight meets an infinite
            // threshold only when η·λ overflows the element type: NaN, as
            // IEEE says.)
            for (&before, &after) in w.iter().zip(&w_ref) {
                assert!(!before.is_nan() || after.is_nan());
                assert!(!before.is_finite() || !after.is_nan());
                if before == 0.0 {
                    assert_eq!(after, 0.0);
                }
            }
            for (tier, exec) in execs() {
                let mut v = w.to_vec();
                let s = en.with_exec(exec).prox_step(&mut v, eta).unwrap();
                assert!(same_slice(&v, &w_ref) && s.zeros == step.zeros && same_f64(s.penalty, step.penalty), "{tier} prox");
            }
            let mut v = w.to_vec();
            pool().install(|| en.prox_step_model([&mut v[..]], eta)).unwrap();
            assert!(same_slice(&v, &w_ref), "prox from a worker");
        }
    }

    // Weight decay.
    if let Ok(decay) = WeightDecay::new(lambda) {
        let mut d_ref = w.to_vec();
        if decay.with_exec(execs()[0].1).apply(&mut d_ref, eta).is_ok() {
            for (tier, exec) in execs() {
                let mut d = w.to_vec();
                decay.with_exec(exec).apply(&mut d, eta).unwrap();
                assert!(same_slice(&d, &d_ref), "{tier} decay");
            }
        } else {
            assert!(same_slice(&d_ref, w));
        }
    }

    // Clipping: untouched below the threshold, errors write nothing.
    let max_norm = f64::from_bits(input.max_norm);
    match ClipGradNorm::new(max_norm) {
        Err(e) => assert!(matches!(e, Error::InvalidMaxNorm { .. }) && !(max_norm >= 0.0)),
        Ok(clip) => {
            let clip = clip.error_if_nonfinite(input.strict);
            let norm = Exec::sequential().sum_sq(&g0).sqrt();
            let mut c_ref = g0.clone();
            match clip.with_exec(execs()[0].1).clip(&mut c_ref) {
                Err(e) => {
                    assert!(input.strict && !norm.is_finite() && matches!(e, Error::NonFiniteNorm { .. }));
                    assert!(same_slice(&c_ref, &g0));
                }
                Ok(total) => {
                    assert!(same_f64(total, norm));
                    if !(total > max_norm || total.is_nan()) {
                        assert!(same_slice(&c_ref, &g0), "untouched below the threshold");
                    }
                    for (tier, exec) in execs() {
                        let mut c = g0.clone();
                        clip.with_exec(exec).clip(&mut c).unwrap();
                        assert!(same_slice(&c, &c_ref), "{tier} clip");
                    }
                }
            }
        }
    }
});

/// Half-precision weights and gradients: every tier's gradient, proximal
/// step and weight decay equal the f32 ops (scalar reference) on the
/// widened values, rounded once (NaN payloads aside).
fn check_half<H: regnorm::Element + Copy>(
    en: ElasticNet,
    eta: f64,
    w_bits: &[u16],
    g_bits: &[u16],
    from_bits: fn(u16) -> H,
    widen: fn(H) -> f32,
    narrow: fn(f32) -> H,
) {
    let w: Vec<H> = w_bits.iter().map(|&b| from_bits(b)).collect();
    let g: Vec<H> = g_bits.iter().map(|&b| from_bits(b)).collect();
    let (w32, g32): (Vec<f32>, Vec<f32>) = (w.iter().map(|&h| widen(h)).collect(), g.iter().map(|&h| widen(h)).collect());
    let reference = en.with_exec(execs()[0].1);
    let same = |a: &[H], b: &[f32]| a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| {
        let (x, y) = (widen(x), widen(narrow(y)));
        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
    });
    // The f32 ops on the widened values.
    let mut g_ref = g32.clone();
    reference.add_gradient(&w32, &mut g_ref).unwrap();
    let mut w_prox = w32.clone();
    let prox_ok = reference.prox_step(&mut w_prox, eta).is_ok();
    for (tier, exec) in execs() {
        let e = en.with_exec(exec);
        let mut gh = g.clone();
        e.add_gradient(&w, &mut gh).unwrap();
        assert!(same(&gh, &g_ref), "{tier}: half gradient = f32 gradient rounded once");
        let mut wh = w.clone();
        assert_eq!(e.prox_step(&mut wh, eta).is_ok(), prox_ok, "{tier}: same step validation");
        if prox_ok {
            assert!(same(&wh, &w_prox), "{tier}: half prox = f32 prox rounded once");
        }
        let decay = WeightDecay::new(0.01).unwrap();
        let (mut wd, mut wd32) = (w.clone(), w32.clone());
        let ok = decay.with_exec(exec).apply(&mut wd, eta).is_ok();
        assert_eq!(decay.with_exec(execs()[0].1).apply(&mut wd32, eta).is_ok(), ok);
        assert!(same(&wd, &wd32), "{tier}: half decay = f32 decay rounded once");
    }
}
