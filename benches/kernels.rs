//! Criterion benchmarks of the reductions, in GB/s of input read: the
//! one-thread ceiling (the fastest of `regnorm_support::ceiling`'s kernels
//! for each size, picked by a short sweep), every tier, the dispatched call, the parallel path (called from outside any
//! pool, and from a worker of the global pool), and the peers a user would
//! otherwise call (naive iterators, ndarray, nalgebra, and faer and OpenBLAS
//! with `--features regnorm-support/faer,regnorm-support/openblas`), on the same buffers, for f32 and f64; and
//! for bf16 and f16 (fewer sizes, the dispatched and parallel calls) against
//! the plain widening iterator and `half`'s conversion to `f32` followed by
//! the f32 peers.
//!
//! Sizes up to 4 Mi f32 stay in this machine's caches between iterations
//! (hot); 64 Mi (256 MiB) is larger than the last-level cache, so every
//! iteration streams from DRAM (cold). `scripts/criterion_table.py` labels
//! them.
//!
//! `cargo bench --bench kernels` runs them all (about 15 minutes);
//! `cargo bench --bench kernels -- 'sum_abs/f32'` a subset.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regnorm::{Element, Exec, Tier};
use regnorm_support::ceiling::{CeilingFloat, Kernel, Op, fastest};
use regnorm_support::peers::PeerFloat;

const SIZES: [usize; 5] = [1_000, 16 << 10, 256 << 10, 4 << 20, 64 << 20];

/// The half types at fewer sizes and without the per-tier rows, to keep the
/// suite's time in bounds.
const HALF_SIZES: [usize; 3] = [16 << 10, 4 << 20, 64 << 20];

/// The ceiling's reduction for the types that have one (f32, f64), and its
/// kernel picker.
type CeilingFn<T> = fn(&[T], Op, Kernel) -> Option<f64>;
type Ceiling<T> = (CeilingFn<T>, fn(&[T], Op) -> Option<Kernel>);

fn bench_type<T: Element + PeerFloat>(
    c: &mut Criterion,
    type_name: &str,
    from_f32: fn(f32) -> T,
    sizes: &[usize],
    every_tier: bool,
    ceiling: Option<Ceiling<T>>,
) {
    let data: Vec<T> = regnorm_support::tensors(&[SIZES[4]], 7)
        .remove(0)
        .into_iter()
        .map(from_f32)
        .collect();
    for op in ["sum_abs", "sum_sq"] {
        let mut group = c.benchmark_group(format!("{op}/{type_name}"));
        for &n in sizes {
            let x = &data[..n];
            group.throughput(Throughput::Bytes(size_of_val(x) as u64));
            let cop = if op == "sum_sq" { Op::Sq } else { Op::Abs };
            if let Some((reduce, fastest)) = ceiling
                && let Some(k) = fastest(x, cop)
            {
                group.bench_function(format!("ceiling/{n}"), |b| {
                    b.iter(|| black_box(reduce(black_box(x), cop, k)))
                });
            }
            for peer in T::peers() {
                if let Some(f) = peer.reduction(op == "sum_sq") {
                    group.bench_function(format!("{}/{n}", peer.name), |b| {
                        b.iter(|| black_box(f(black_box(x))))
                    });
                }
            }
            for tier in Tier::available().into_iter().filter(|_| every_tier) {
                let exec = Exec::sequential().with_tier(tier).unwrap();
                group.bench_function(format!("{tier}/{n}"), |b| b.iter(|| call(exec, op, x)));
            }
            group.bench_function(format!("dispatched/{n}"), |b| {
                b.iter(|| call(Exec::sequential(), op, x))
            });
            group.bench_function(format!("parallel/{n}"), |b| {
                b.iter(|| call(Exec::new(), op, x))
            });
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

fn benches(c: &mut Criterion) {
    let f32_ceiling = (f32::reduce as CeilingFn<f32>, fastest::<f32> as _);
    let f64_ceiling = (f64::reduce as CeilingFn<f64>, fastest::<f64> as _);
    bench_type::<f32>(c, "f32", |v| v, &SIZES, true, Some(f32_ceiling));
    bench_type::<f64>(c, "f64", f64::from, &SIZES, true, Some(f64_ceiling));
    bench_type::<half::bf16>(c, "bf16", half::bf16::from_f32, &HALF_SIZES, false, None);
    bench_type::<half::f16>(c, "f16", half::f16::from_f32, &HALF_SIZES, false, None);
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
