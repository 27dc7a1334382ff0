//! The canonical order, written again from the crate docs alone (not from
//! the scalar tier), and every tier and thread count checked against it bit
//! for bit; plus the bits of a few fixed inputs, pinned so that a change of
//! the order cannot go unnoticed.

mod common;

use common::*;

/// The documented order for one slice, `f32` lanes: blocks of 64·L, lane
/// `i mod L` in `f32` (`|x|` added, `x²` by a fused multiply-add), the f64
/// fold tree, super-chunks of 4 blocks, the halving tree over them.
fn documented_f32(x: &[f32], sq: bool) -> f64 {
    const L: usize = 64;
    let block = |b: &[f32]| {
        let mut lanes = [0f32; L];
        for (i, &v) in b.iter().enumerate() {
            let l = &mut lanes[i % L];
            *l = if sq { v.mul_add(v, *l) } else { *l + v.abs() };
        }
        let mut wide: Vec<f64> = lanes.iter().map(|&v| f64::from(v)).collect();
        let mut w = L / 2;
        while w >= 1 {
            for i in 0..w {
                wide[i] += wide[i + w];
            }
            w /= 2;
        }
        wide[0]
    };
    let super_chunk = |s: &[f32]| s.chunks(64 * L).fold(0.0, |acc, b| acc + block(b));
    fn tree(x: &[f32], chunk: usize, leaf: &dyn Fn(&[f32]) -> f64) -> f64 {
        let c = x.len().div_ceil(chunk);
        if c <= 1 {
            return leaf(x);
        }
        let (a, b) = x.split_at(c.div_ceil(2) * chunk);
        tree(a, chunk, leaf) + tree(b, chunk, leaf)
    }
    let s = tree(x, 4 * 64 * L, &super_chunk);
    if s.is_nan() { f64::NAN } else { s }
}

#[test]
fn every_tier_and_thread_count_computes_the_documented_order() {
    let mut rng = Rng(31);
    let pools: Vec<rayon::ThreadPool> = [1, 2, 3]
        .iter()
        .map(|&n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        })
        .collect();
    for n in [
        0,
        1,
        63,
        64,
        65,
        4095,
        4096,
        4097,
        16_384,
        16_385,
        70_001,
        300_000,
        1 << 20,
    ] {
        // Mixed magnitudes, so that every change of order changes bits.
        let x: Vec<f32> = (0..n)
            .map(|i| rng.uniform_f32() * 2f32.powi((i % 41) as i32 - 20))
            .collect();
        for start in [0, 1, 7] {
            let x = &x[start.min(n)..];
            let (abs, sq) = (documented_f32(x, false), documented_f32(x, true));
            for (tier, exec) in tier_execs() {
                let s = exec.sums(x);
                assert_eq!(
                    s.abs.to_bits(),
                    abs.to_bits(),
                    "{tier} abs n={n} start={start}"
                );
                assert_eq!(
                    s.sq.to_bits(),
                    sq.to_bits(),
                    "{tier} sq n={n} start={start}"
                );
            }
            for pool in &pools {
                let s = pool.install(|| regnorm::sums(x));
                assert_eq!(s.abs.to_bits(), abs.to_bits(), "pool abs n={n}");
                assert_eq!(s.sq.to_bits(), sq.to_bits(), "pool sq n={n}");
            }
            assert_eq!(
                regnorm::sum_sq(x).to_bits(),
                sq.to_bits(),
                "main thread n={n}"
            );
        }
    }
}

/// The bits of fixed inputs under the order of 2026-11-27 (64 `f32` / 32
/// `f64` lanes, 64 rows, squares fused, 64 KiB super-chunks). If this
/// fails, the canonical order changed: every user's results change with it.
/// Do it deliberately, document it in the crate docs, and update these.
#[test]
fn the_canonical_bits_of_fixed_inputs_are_pinned() {
    let x: Vec<f32> = (0..100_000u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761) >> 8) as f32 / 16_777_216.0 - 0.5) * 3.0)
        .collect();
    let y: Vec<f64> = x.iter().map(|&v| f64::from(v) * 1.000_000_1).collect();
    let got = [
        regnorm::sum_abs(&x).to_bits(),
        regnorm::sum_sq(&x).to_bits(),
        regnorm::sum_abs(&y).to_bits(),
        regnorm::sum_sq(&y).to_bits(),
    ];
    let pinned: [u64; 4] = [
        0x40f2_4f87_755e_0000,
        0x40f2_4f8b_7bd2_0000,
        0x40f2_4f87_9314_7e6e,
        0x40f2_4f8b_b871_fae2,
    ];
    assert_eq!(got, pinned, "{got:#018x?}");
}
