//! Where splitting a reduction across two threads starts to pay, called from
//! outside any rayon pool and from a rayon worker: the measurement behind
//! `MIN_PARALLEL_BYTES` and `MIN_PARALLEL_BYTES_OUTSIDE_POOL` in
//! `src/parallel.rs`.
//!
//! For each size it times `sum_abs` over `f32` on one thread, and the same
//! input split in two halves with `rayon::join` (each half summed on one
//! thread), once joined from the main thread (outside the pool: rayon hands
//! the join to a pool thread and blocks the caller) and once from inside a
//! pool worker (the other worker steals a half). Medians of 9 samples, in µs
//! per call.
//!
//! ```sh
//! cargo run --release --example parallel_threshold
//! ```

use std::hint::black_box;
use std::time::Instant;

use regnorm::Exec;

/// Median over 9 samples of the time of one call, in µs; each sample runs
/// `f` as many times as fit in about 20 ms.
fn median_us(mut f: impl FnMut() -> f64) -> f64 {
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed().as_secs_f64() < 0.02 {
        black_box(f());
        calls += 1;
    }
    let mut samples: Vec<f64> = (0..9)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                black_box(f());
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(calls)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[4]
}

fn main() {
    let one = Exec::sequential();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    println!("sum_abs over f32, µs per call (median of 9 samples), 2-thread pools");
    println!();
    println!(
        "| bytes | one thread | split, joined from outside a pool | split, joined from a worker |"
    );
    println!("|---:|---:|---:|---:|");
    for kib in [64usize, 256, 1024, 4096, 16384] {
        let x: Vec<f32> = (0..kib * 256)
            .map(|i| ((i % 1000) as f32) * 1e-3 - 0.5)
            .collect();
        let (a, b) = x.split_at(x.len() / 2);
        let halves = || {
            let (p, q) = rayon::join(|| one.sum_abs(black_box(a)), || one.sum_abs(black_box(b)));
            p + q
        };
        let sequential = median_us(|| one.sum_abs(black_box(&x[..])));
        // Joined from the main thread, which is no worker of any pool: the
        // global pool (one thread per core) takes the join.
        let from_outside = median_us(halves);
        let from_worker = pool.install(|| median_us(halves));
        println!("| {kib} KiB | {sequential:.1} | {from_outside:.1} | {from_worker:.1} |");
    }
}
