//! regnorm against this machine's speed of light, in one process: the cases
//! of the speed issue, each as a fraction of the one-thread ceiling (eight
//! accumulators on the best of AVX2+FMA and AVX-512) below 1 MiB of input
//! and of the two-thread ceiling (a spinning worker) from 1 MiB up; regnorm
//! called back-to-back from the main thread and from a worker of a 2-thread
//! rayon pool; whole models against the two-thread ceiling over the same
//! bytes; and the CPU the library burns in the second after a burst.
//!
//! ```sh
//! cargo run --release --example speed_of_light            # about a minute
//! cargo run --release --example speed_of_light -- quick   # fewer rounds
//! ```
//!
//! Run it alone: on 2 cores a second busy process ruins every figure.

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::ceiling::{CeilingFloat, SpinPair, ceiling_tiers};
use regnorm::{ClipGradNorm, Element, L1, L2, Regularizer};

/// Seconds per call: the median over `samples` batches of back-to-back calls.
fn per_call(bytes: usize, samples: usize, mut f: impl FnMut()) -> Vec<f64> {
    let reps = (64_000_000 / bytes.max(1)).clamp(3, 50_000);
    for _ in 0..reps.min(50) {
        f();
    }
    (0..samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Speeds {
    main: f64,
    worker: f64,
    one: f64,
    two: f64,
}

/// GB/s of `ours` from the main thread and from a pool worker, and of the
/// ceilings, over `x`, in interleaved rounds.
fn speeds<T: CeilingFloat>(
    x: &[T],
    sq: bool,
    rounds: usize,
    pool: &rayon::ThreadPool,
    ours: &(dyn Fn() -> f64 + Sync),
) -> Speeds {
    let bytes = size_of_val(x);
    let (mut m, mut w, mut one, mut two) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        m.extend(per_call(bytes, 5, || _ = black_box(ours())));
        w.extend(pool.install(|| per_call(bytes, 5, || _ = black_box(ours()))));
        std::thread::sleep(Duration::from_millis(2));
        for &avx512 in &ceiling_tiers() {
            one.push((
                avx512,
                median(per_call(bytes, 5, || {
                    _ = black_box(T::reduce(black_box(x), sq, avx512))
                })),
            ));
        }
        let avx512 = *ceiling_tiers().last().unwrap();
        let mut pair = SpinPair::new::<T>(sq, avx512);
        two.extend(per_call(bytes, 5, || {
            _ = black_box(pair.run(black_box(x), sq, avx512))
        }));
        drop(pair);
        std::thread::sleep(Duration::from_millis(2));
    }
    let best_one = ceiling_tiers()
        .into_iter()
        .map(|t| median(one.iter().filter(|o| o.0 == t).map(|o| o.1).collect()))
        .fold(f64::INFINITY, f64::min);
    let gb = bytes as f64 / 1e9;
    Speeds {
        main: gb / median(m),
        worker: gb / median(w),
        one: gb / best_one,
        two: gb / median(two),
    }
}

/// A 64-byte-aligned slice of `n` values in [-1, 1) (the ceilings read the
/// same slice, so neither pays for cache-line-splitting loads).
fn aligned<T: Element + From<f32>>(n: usize, store: &mut Vec<T>) -> &[T] {
    *store = common::tensors(&[n + 16], 7)
        .remove(0)
        .into_iter()
        .map(T::from)
        .collect();
    let skip = store.as_ptr().align_offset(64).min(16);
    &store[skip..skip + n]
}

fn report(what: &str, s: &Speeds, two_threads: bool) -> (f64, f64) {
    let ceiling = if two_threads { s.two } else { s.one };
    let (rm, rw) = (s.main / ceiling, s.worker / ceiling);
    println!(
        "| {what} | {:.1} / {:.1} | 1T {:.1} · 2T {:.1} | {} | {rm:.2} / {rw:.2} |",
        s.main,
        s.worker,
        s.one,
        s.two,
        if two_threads { "2T" } else { "1T" }
    );
    (rm, rw)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    if ceiling_tiers().is_empty() {
        println!("no AVX2+FMA or AVX-512 on this CPU: no ceiling to compare with");
        return;
    }
    let quick = std::env::args().any(|a| a == "quick");
    let rounds = if quick { 2 } else { 3 };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    println!("regnorm vs the speed of light on this machine (GB/s of input, medians)\n");
    println!("| case | regnorm main / worker | ceilings | vs | ratio main / worker |");
    println!("|---|---:|---:|---|---:|");
    let (mut f32s, mut f64s) = (Vec::new(), Vec::new());
    for n in [1_000usize, 16_384, 262_144, 1 << 20, 1 << 22] {
        let x = aligned::<f32>(n, &mut f32s);
        for (op, sq) in [("sum_abs", false), ("sum_sq", true)] {
            let f = |x: &[f32]| {
                if sq {
                    regnorm::sum_sq(x)
                } else {
                    regnorm::sum_abs(x)
                }
            };
            let s = speeds(x, sq, rounds, &pool, &|| f(black_box(x)));
            report(&format!("f32 {op}, {n}"), &s, n * 4 >= 1 << 20);
        }
        if n == 16_384 {
            let s = speeds(x, true, rounds, &pool, &|| regnorm::sums(black_box(x)).sq);
            report(&format!("f32 sums, {n}"), &s, false);
        }
    }
    for n in [1_000usize, 16_384, 262_144] {
        let x = aligned::<f64>(n, &mut f64s);
        for (op, sq) in [("sum_abs", false), ("sum_sq", true)] {
            let f = |x: &[f64]| {
                if sq {
                    regnorm::sum_sq(x)
                } else {
                    regnorm::sum_abs(x)
                }
            };
            let s = speeds(x, sq, rounds, &pool, &|| f(black_box(x)));
            report(&format!("f64 {op}, {n}"), &s, n * 8 >= 1 << 20);
        }
    }
    // Whole models: against the two-thread ceiling over a flat buffer of the
    // same number of values.
    let l1 = L1::new(1e-4).unwrap();
    let l2 = L2::new(1e-4).unwrap();
    let clip = ClipGradNorm::new(f64::MAX).unwrap();
    for (name, shapes) in [
        ("ResNet-18", common::resnet18()),
        ("GPT-2 small", common::gpt2_small()),
    ] {
        if quick && name == "GPT-2 small" {
            continue;
        }
        let mut model = common::tensors(&shapes, 3);
        let total: usize = shapes.iter().sum();
        let flat = aligned::<f32>(total, &mut f32s);
        let s = speeds(flat, false, rounds, &pool, &|| {
            l1.penalty_model(black_box(&model))
        });
        report(&format!("{name} L1 penalty_model"), &s, true);
        let s = speeds(flat, true, rounds, &pool, &|| {
            l2.penalty_model(black_box(&model))
        });
        report(&format!("{name} L2 penalty_model"), &s, true);
        // A norm below max_norm: clipping reads the gradients once, writes nothing.
        let model_ref = std::sync::Mutex::new(&mut model);
        let s = speeds(flat, true, rounds, &pool, &|| {
            clip.clip_model(&mut **model_ref.lock().unwrap()).unwrap()
        });
        report(
            &format!("{name} clip_model (norm, below max_norm)"),
            &s,
            true,
        );
    }
    let x = aligned::<f32>(1 << 22, &mut f32s);
    for _ in 0..500 {
        black_box(regnorm::sum_sq(black_box(x)));
    }
    std::thread::sleep(Duration::from_millis(20));
    let before = cpu_seconds();
    std::thread::sleep(Duration::from_secs(1));
    println!(
        "\nidle: {:.0} ms of CPU time in the second after a burst of 500 calls",
        (cpu_seconds() - before) * 1e3
    );
}
