//! Criterion benchmarks of the reductions: every tier, the dispatched call,
//! the parallel path (called from outside any pool, and from a worker of
//! the global pool) and the naive iterator, for f32 and f64, in GB/s of input read.
//!
//! `cargo bench --bench kernels` runs them all (about 6 minutes);
//! `cargo bench --bench kernels -- 'sum_abs/f32'` a subset.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use regnorm::{Element, Exec, Tier};

const SIZES: [usize; 5] = [1_000, 16 << 10, 256 << 10, 4 << 20, 64 << 20];

/// Element types with a naive reference loop.
trait Naive: Element + Copy + From<f32> {
    fn naive_abs(x: &[Self]) -> Self;
    fn naive_sq(x: &[Self]) -> Self;
}
impl Naive for f32 {
    fn naive_abs(x: &[f32]) -> f32 {
        x.iter().map(|v| v.abs()).sum()
    }
    fn naive_sq(x: &[f32]) -> f32 {
        x.iter().map(|v| v * v).sum()
    }
}
impl Naive for f64 {
    fn naive_abs(x: &[f64]) -> f64 {
        x.iter().map(|v| v.abs()).sum()
    }
    fn naive_sq(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v).sum()
    }
}

fn bench_type<T: Naive>(c: &mut Criterion, type_name: &str) {
    let data: Vec<T> = (0..SIZES[4])
        .map(|i| T::from(((i * 7919) % 2001) as f32 / 1000.0 - 1.0))
        .collect();
    for op in ["sum_abs", "sum_sq"] {
        let mut group = c.benchmark_group(format!("{op}/{type_name}"));
        for n in SIZES {
            let x = &data[..n];
            group.throughput(Throughput::Bytes(size_of_val(x) as u64));
            run(&mut group, "naive", n, || {
                if op == "sum_abs" {
                    black_box(T::naive_abs(black_box(x)));
                } else {
                    black_box(T::naive_sq(black_box(x)));
                }
            });
            for tier in Tier::available() {
                let exec = Exec::sequential().with_tier(tier).unwrap();
                run(&mut group, tier.name(), n, || call(exec, op, x));
            }
            run(&mut group, "dispatched", n, || {
                call(Exec::sequential(), op, x)
            });
            run(&mut group, "parallel", n, || call(Exec::new(), op, x));
            // Timed on a worker of the global pool, as a rayon-based training
            // loop would call it (the same pool "parallel" uses, so that no
            // second pool competes for the cores).
            group.bench_function(format!("parallel-in-pool/{n}"), |b| {
                b.iter_custom(|iters| {
                    on_worker(|| {
                        let start = Instant::now();
                        for _ in 0..iters {
                            call(Exec::new(), op, x);
                        }
                        start.elapsed()
                    })
                })
            });
        }
        group.finish();
    }
}

/// Runs `f` on a worker thread of the global rayon pool.
fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::join(f, || ()).0
}

fn call<T: Element>(exec: Exec, op: &str, x: &[T]) {
    let x = black_box(x);
    black_box(if op == "sum_abs" {
        exec.sum_abs(x)
    } else {
        exec.sum_sq(x)
    });
}

fn run(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, n: usize, mut f: impl FnMut()) {
    group.bench_function(format!("{name}/{n}"), |b| b.iter(&mut f));
}

fn benches(c: &mut Criterion) {
    bench_type::<f32>(c, "f32");
    bench_type::<f64>(c, "f64");
}

criterion_group! {
    name = kernels;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .sample_size(20);
    targets = benches
}
criterion_main!(kernels);
