//! `sum_abs`, `sum_sq` and `sums` of every bit pattern, at every offset:
//! every tier, the dispatched call and the parallel path (from outside any
//! pool and from a pool worker) return the scalar reference's bits, and the
//! result obeys the documented NaN/Inf rules.
#![no_main]

#[path = "common.rs"]
mod common;

use common::*;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use regnorm::{Exec, Sums};

#[derive(Arbitrary, Debug)]
struct Input {
    wide: bool,
    offset: u8,
    tile_to: u32,
    bits32: Vec<u32>,
    bits64: Vec<u64>,
}

fn check<T: regnorm::Element + Copy + Into<f64>>(x: &[T]) {
    let mut execs = execs();
    let (_, reference_exec) = execs.remove(0);
    let reference = reference_exec.sums(x);
    let bits = |s: Sums| (s.abs.to_bits(), s.sq.to_bits());
    for (tier, exec) in execs {
        assert_eq!(bits(exec.sums(x)), bits(reference), "{tier} sums");
        assert_eq!(exec.sum_abs(x).to_bits(), reference.abs.to_bits(), "{tier} sum_abs");
        assert_eq!(exec.sum_sq(x).to_bits(), reference.sq.to_bits(), "{tier} sum_sq");
    }
    assert_eq!(bits(Exec::new().sums(x)), bits(reference), "parallel");
    assert_eq!(bits(pool().install(|| Exec::new().sums(x))), bits(reference), "parallel from a worker");
    // The documented rules.
    let values: Vec<f64> = x.iter().map(|&v| v.into()).collect();
    if values.iter().any(|v| v.is_nan()) {
        assert_eq!(reference.abs.to_bits(), f64::NAN.to_bits(), "NaN in, canonical NaN out");
        assert_eq!(reference.sq.to_bits(), f64::NAN.to_bits());
    } else if values.iter().any(|v| v.is_infinite()) {
        assert_eq!((reference.abs, reference.sq), (f64::INFINITY, f64::INFINITY), "Inf in, +Inf out");
    } else {
        assert!(reference.abs >= 0.0 && reference.sq >= 0.0, "sums of non-negative terms");
        let max_abs = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(reference.abs >= max_abs * (1.0 - 1e-5), "a sum is at least its largest term");
    }
}

fuzz_target!(|input: Input| {
    let offset = usize::from(input.offset % 16);
    let len = (input.tile_to % 400_000) as usize;
    if input.wide {
        let mut v = f64s(&input.bits64);
        if input.tile_to % 7 == 0 {
            v = tile(&v, len);
        }
        check(&v[offset.min(v.len())..]);
    } else {
        let mut v = f32s(&input.bits32);
        if input.tile_to % 7 == 0 {
            v = tile(&v, len);
        }
        check(&v[offset.min(v.len())..]);
        // The same bits as bf16 and f16 pairs: every tier against the scalar
        // reference, and exactly the sums of the widening to f32.
        let halves: Vec<u16> = v.iter().flat_map(|f| {
            let b = f.to_bits();
            [b as u16, (b >> 16) as u16]
        }).collect();
        let halves = &halves[offset.min(halves.len())..];
        let bf: Vec<half::bf16> = halves.iter().map(|&h| half::bf16::from_bits(h)).collect();
        let hf: Vec<half::f16> = halves.iter().map(|&h| half::f16::from_bits(h)).collect();
        check_half(&bf, |h| h.to_f32());
        check_half(&hf, |h| h.to_f32());
    }
});

fn check_half<H: regnorm::Element + Copy>(x: &[H], widen: impl Fn(H) -> f32) {
    let bits = |s: Sums| (s.abs.to_bits(), s.sq.to_bits());
    let widened: Vec<f32> = x.iter().map(|&h| widen(h)).collect();
    let mut execs = execs();
    let (_, reference_exec) = execs.remove(0);
    let reference = reference_exec.sums(x);
    assert_eq!(bits(reference), bits(reference_exec.sums(&widened)), "half = its widening");
    for (tier, exec) in execs {
        assert_eq!(bits(exec.sums(x)), bits(reference), "{tier} half sums");
    }
    assert_eq!(bits(Exec::new().sums(x)), bits(reference), "half parallel");
}
