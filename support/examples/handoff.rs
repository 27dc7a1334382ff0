//! Where the time of a call split over two threads goes: regnorm's `sum_abs`
//! on two threads against the two-thread ceiling (a worker spinning for
//! work, `SpinPair`), and each one's left half alone on one thread. A
//! call's time less its half's time is what the split costs: posting the
//! half, the helper starting it late, and the result coming back.
//!
//! ```sh
//! cargo run --release -p regnorm-support --example handoff [elements, default 256 Ki f32] [rounds, default 30]
//! ```
//!
//! Each round times a batch of each of the four, back to back (the ceilings
//! as the best of the three kernels picked for them at the start); the
//! medians over the rounds are printed. Run it alone.

use std::hint::black_box;

use regnorm_support::ceiling::{
    CeilingFloat, Kernel, Op, SpinPair, ceiling_kernels, fastest_kernels,
};
use regnorm_support::timing::{median, seconds_per_call};

/// Microseconds per call over a batch of `reps` calls, after `reps / 4`
/// untimed ones.
fn batch(reps: usize, mut f: impl FnMut()) -> f64 {
    seconds_per_call(reps / 4, &mut f);
    seconds_per_call(reps, f) * 1e6
}

/// The best batch of the `picked` kernels.
fn best(reps: usize, picked: &[Kernel], mut run: impl FnMut(Kernel)) -> f64 {
    picked
        .iter()
        .map(|&k| batch(reps, || run(k)))
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1 << 18);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let x: Vec<f32> = (0..n).map(|i| (i as f32 * 1e-3).sin()).collect();
    // The ceiling's split: its worker takes the half from here on.
    let half = &x[..(n / 2) & !127];
    let reps = (128_000_000 / (4 * n).max(1)).clamp(20, 20_000);
    let kernels = ceiling_kernels();
    let pick = |run: &mut dyn FnMut(Kernel)| -> Vec<Kernel> {
        fastest_kernels(&kernels, 3, 3, |k| batch(reps, || run(k)))
            .into_iter()
            .map(|(_, k)| k)
            .collect()
    };
    // The pair's worker spins as long as it lives: it is alive only while
    // the two-thread ceiling is timed, never beside regnorm.
    let mut pair = SpinPair::<f32>::new();
    let two = pick(&mut |k| {
        black_box(pair.run(black_box(&x), Op::Abs, k));
    });
    drop(pair);
    let one = pick(&mut |k| {
        black_box(f32::reduce(black_box(half), Op::Abs, k));
    });
    let names = |ks: &[Kernel]| {
        ks.iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "ceiling kernels picked: two threads {}; one thread {}",
        names(&two),
        names(&one)
    );
    let sequential = regnorm::Exec::sequential();
    let [mut r2, mut c2, mut r1, mut c1] = [(); 4].map(|_| Vec::with_capacity(rounds));
    for _ in 0..rounds {
        r2.push(batch(reps, || {
            black_box(regnorm::sum_abs(black_box(&x[..])));
        }));
        let mut pair = SpinPair::<f32>::new();
        c2.push(best(reps, &two, |k| {
            black_box(pair.run(black_box(&x), Op::Abs, k));
        }));
        drop(pair);
        r1.push(batch(reps, || {
            black_box(sequential.sum_abs(black_box(half)));
        }));
        c1.push(best(reps, &one, |k| {
            black_box(f32::reduce(black_box(half), Op::Abs, k));
        }));
    }
    let [r2, c2, r1, c1] = [r2, c2, r1, c1].map(median);
    println!("f32 sum_abs, {n} elements, medians of {rounds} rounds (µs per call)");
    println!("              two threads   half on one thread   split costs");
    println!("regnorm       {r2:11.2}   {r1:18.2}   {:11.2}", r2 - r1);
    println!("ceiling       {c2:11.2}   {c1:18.2}   {:11.2}", c2 - c1);
    println!("regnorm / ceiling, two threads: {:.2}", c2 / r2);
}
