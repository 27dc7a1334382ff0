//! Split calls right after regnorm's helper has parked, with other threads
//! coming and going: the round pattern of `speed_of_light` (a pause, a
//! rayon pool's worker, a spinning pair). Each round times a batch of
//! `sum_abs` calls from the main thread and a batch on one thread
//! (`Exec::sequential`), and counts the round as *unsplit* when the split
//! batch is not at least 1.25× faster, which is what happens when the
//! woken helper waits behind its caller on one CPU and the caller takes
//! each half back.
//!
//! ```sh
//! cargo run --release -p regnorm-support --example wake [elements, default 256 Ki f64] [rounds, default 300]
//! ```

use std::hint::black_box;
use std::time::Duration;

use regnorm_support::ceiling::{Kernel, Op, SpinPair};
use regnorm_support::timing::{calls_for, seconds_per_call};

/// Microseconds per call over a batch of back-to-back calls (as many as
/// `speed_of_light` makes: about 32 MB of input, at least 20 calls).
fn batch(bytes: usize, f: impl FnMut()) -> f64 {
    seconds_per_call(calls_for(bytes), f) * 1e6
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1 << 18);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let x: Vec<f64> = (0..n).map(|i| (i as f64 * 1e-3).sin()).collect();
    let bytes = size_of_val(&x[..]);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    let kernel = Kernel {
        avx512: false,
        accumulators: 8,
        streams: 1,
        prefetch: false,
    };
    let split = || _ = black_box(regnorm::sum_abs(black_box(&x[..])));
    let sequential = regnorm::Exec::sequential();
    let (mut unsplit, mut ratios) = (0, Vec::with_capacity(rounds));
    for _ in 0..rounds {
        batch(bytes, split);
        let two = batch(bytes, split);
        let one = batch(bytes, || {
            _ = black_box(sequential.sum_abs(black_box(&x[..])))
        });
        if one / two < 1.25 {
            unsplit += 1;
        }
        ratios.push(one / two);
        // What lets the helper park before the next round: a pause, a pool
        // worker's calls, and a spinning pair of threads.
        std::thread::sleep(Duration::from_millis(1));
        pool.install(|| {
            batch(bytes, split);
            std::thread::sleep(Duration::from_millis(1));
        });
        let mut pair = SpinPair::<f64>::new();
        batch(bytes, || {
            _ = black_box(pair.run(black_box(&x), Op::Abs, kernel))
        });
        drop(pair);
        std::thread::sleep(Duration::from_millis(1));
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "f64 sum_abs, {n} elements: split calls {:.2}x one thread (median of {rounds} rounds); unsplit in {unsplit} of {rounds} rounds",
        ratios[rounds / 2]
    );
}
