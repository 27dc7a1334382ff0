//! L1, L2 and ElasticNet from arbitrary λ and `l1_ratio` bits: invalid ones
//! are errors (never panics); valid ones give, on every tier and thread
//! path, over one tensor and over a model cut into arbitrary shapes, the
//! bits of the documented formula applied to the scalar reference's sums.
#![no_main]

#[path = "common.rs"]
mod common;

use common::*;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use regnorm::{ElasticNet, Error, Exec, L1, L2, Regularizer, Sums};

#[derive(Arbitrary, Debug)]
struct Input {
    kind: u8,
    lambda: u64,
    ratio: u64,
    cuts: Vec<u16>,
    bits: Vec<u32>,
}

/// The documented formula on given sums.
fn formula(kind: u8, lambda: f64, r: f64, s: Sums) -> f64 {
    match kind % 3 {
        0 => lambda * s.abs,
        1 => lambda * s.sq,
        _ if r == 1.0 => lambda * s.abs,
        _ if r == 0.0 => lambda * (0.5 * s.sq),
        _ => lambda * (r * s.abs + (1.0 - r) / 2.0 * s.sq),
    }
}

fn check<R: Regularizer + Copy>(r: R, kind: u8, lambda: f64, ratio: f64, w: &[f32], model: &[&[f32]]) {
    let reference = execs()[0].1;
    let expected = formula(kind, lambda, ratio, reference.sums(w));
    let model_sums = model.iter().fold(Sums::ZERO, |acc, t| acc + reference.sums(t));
    let expected_model = formula(kind, lambda, ratio, model_sums);
    for (tier, exec) in execs() {
        let r = r.with_exec(exec);
        assert!(same_f64(r.penalty(w), expected), "{tier} penalty");
        assert!(same_f64(r.penalty_model(model), expected_model), "{tier} model penalty");
    }
    let r = r.with_exec(Exec::new());
    assert!(same_f64(r.penalty_model(model), expected_model), "parallel model");
    assert!(same_f64(pool().install(|| r.penalty_model(model)), expected_model), "model from a worker");
    // The same bits as bf16 and f16 halves: their penalty is that of their
    // widening to f32, on every tier.
    let halves: Vec<u16> = w.iter().flat_map(|v| { let b = v.to_bits(); [b as u16, (b >> 16) as u16] }).collect();
    let bf: Vec<half::bf16> = halves.iter().map(|&h| half::bf16::from_bits(h)).collect();
    let hf: Vec<half::f16> = halves.iter().map(|&h| half::f16::from_bits(h)).collect();
    let bf32: Vec<f32> = bf.iter().map(|h| h.to_f32()).collect();
    let hf32: Vec<f32> = hf.iter().map(|h| h.to_f32()).collect();
    for (tier, exec) in execs() {
        let r = r.with_exec(exec);
        assert!(same_f64(r.penalty(&bf), r.penalty(&bf32)), "{tier} bf16 penalty = its widening's");
        assert!(same_f64(r.penalty(&hf), r.penalty(&hf32)), "{tier} f16 penalty = its widening's");
    }
}

fuzz_target!(|input: Input| {
    let (lambda, ratio) = (f64::from_bits(input.lambda), f64::from_bits(input.ratio));
    let w = f32s(&input.bits);
    // A model: the data cut at the fuzzer's positions (empty tensors too).
    let mut model: Vec<&[f32]> = Vec::new();
    let mut rest = &w[..];
    for &c in &input.cuts {
        let (a, b) = rest.split_at(usize::from(c).min(rest.len()));
        model.push(a);
        rest = b;
    }
    model.push(rest);
    let lambda_ok = lambda.is_finite() && lambda >= 0.0;
    match input.kind % 3 {
        0 => match L1::new(lambda) {
            Ok(r) => check(r, 0, lambda, 1.0, &w, &model),
            Err(e) => assert!(!lambda_ok && matches!(e, Error::InvalidLambda { .. })),
        },
        1 => match L2::new(lambda) {
            Ok(r) => check(r, 1, lambda, 0.0, &w, &model),
            Err(e) => assert!(!lambda_ok && matches!(e, Error::InvalidLambda { .. })),
        },
        _ => match ElasticNet::new(lambda, ratio) {
            Ok(r) => check(r, 2, lambda, ratio, &w, &model),
            Err(Error::InvalidLambda { .. }) => assert!(!lambda_ok),
            Err(Error::InvalidL1Ratio { .. }) => assert!(lambda_ok && !(0.0..=1.0).contains(&ratio)),
            Err(other) => panic!("unexpected error {other}"),
        },
    }
    // Display never panics.
    let _ = L1::new(lambda).map_err(|e| e.to_string());
});
