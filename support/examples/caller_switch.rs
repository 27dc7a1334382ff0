//! Back-to-back parallel calls while the calling thread switches: batches of
//! 30 `sum_sq` calls from the main thread, then from a worker of a 2-thread
//! rayon pool, then on one thread (`Exec::sequential`), repeated. Prints per
//! caller the median and 90th percentile of the batches' mean call time and
//! how many batches were slower than the one-thread call of the same round:
//! a split must never be, wherever the scheduler puts the new caller.
//!
//! ```text
//! cargo run --release -p regnorm-support --example caller_switch [elements, default 1 Mi f32] [rounds, default 40]
//! ```

use regnorm_support::timing::seconds_per_call;
use std::hint::black_box;

fn mean_call_us(calls: usize, f: impl Fn()) -> f64 {
    seconds_per_call(calls, f) * 1e6
}

fn summary(name: &str, v: &[f64], one: &[f64]) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let slower = v.iter().zip(one).filter(|(a, b)| a > b).count();
    println!(
        "{name:<12} median {:7.1} µs   p90 {:7.1} µs   slower than one thread in {slower} of {} batches",
        s[s.len() / 2],
        s[s.len() * 9 / 10],
        v.len()
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1 << 20);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(40);
    let x: Vec<f32> = (0..n).map(|i| (i as f32 * 1e-3).sin()).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let call = || {
        black_box(regnorm::sum_sq(black_box(&x[..])));
    };
    let (mut main, mut worker, mut one) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        main.push(mean_call_us(30, call));
        worker.push(pool.install(|| mean_call_us(30, call)));
        one.push(mean_call_us(30, || {
            black_box(regnorm::Exec::sequential().sum_sq(black_box(&x[..])));
        }));
    }
    println!("{n} f32 elements, {rounds} rounds of 30 calls per caller");
    summary("main thread", &main, &one);
    summary("pool worker", &worker, &one);
    summary("one thread", &one, &one);
}
