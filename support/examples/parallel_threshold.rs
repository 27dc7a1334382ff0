//! Where splitting a reduction across two threads starts to pay: the
//! measurement behind `MIN_PARALLEL_BYTES` in `src/parallel/mod.rs`, and
//! the check that a parallel call is never slower than one thread.
//!
//! For each size it times `sum_abs` over `f32` on one thread
//! (`Exec::sequential()`) and the default parallel call (the calling thread
//! takes one half of the canonical tree, regnorm's helper the other), from
//! the main thread and from a worker of a 2-thread rayon pool, back to back
//! (a helper that has parked is woken by the first call of each sample).
//! Medians of 9 samples, in µs per call.
//!
//! ```sh
//! cargo run --release -p regnorm-support --example parallel_threshold
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
    let (one, split) = (Exec::sequential(), Exec::new());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    println!("sum_abs over f32, µs per call (median of 9 samples), 2 threads");
    println!();
    println!(
        "| bytes | one thread | parallel, from the main thread | parallel, from a pool worker |"
    );
    println!("|---:|---:|---:|---:|");
    for kib in [64usize, 128, 256, 512, 1024, 4096, 16384] {
        let x: Vec<f32> = (0..kib * 256)
            .map(|i| ((i % 1000) as f32) * 1e-3 - 0.5)
            .collect();
        let sequential = median_us(|| one.sum_abs(black_box(&x[..])));
        let from_main = median_us(|| split.sum_abs(black_box(&x[..])));
        let from_worker = pool.install(|| median_us(|| split.sum_abs(black_box(&x[..]))));
        println!("| {kib} KiB | {sequential:.1} | {from_main:.1} | {from_worker:.1} |");
    }
}
