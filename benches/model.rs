//! Criterion benchmarks of whole-model penalties: regnorm's one call over a
//! ResNet-18-shaped model (62 tensors, 11.7 M f32 values, 41 tensors of at
//! most 1,024) and a GPT-2-small-shaped one (148 tensors, 124 M values),
//! against the loop a user writes with a peer (the penalty of each tensor,
//! summed), in GB/s of parameters read; and GPT-2 small in bf16 against
//! the half peers' loops. `cargo bench --bench model`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regnorm::{Exec, L1, L2, Regularizer};
use regnorm_support::peers::PeerFloat;

fn models(c: &mut Criterion) {
    for (name, shapes) in [
        ("resnet18", regnorm_support::resnet18()),
        ("gpt2_small", regnorm_support::gpt2_small()),
    ] {
        let model = regnorm_support::tensors(&shapes, 5);
        let bytes = (shapes.iter().sum::<usize>() * 4) as u64;
        for op in ["l1", "l2"] {
            let mut group = c.benchmark_group(format!("model_{op}/{name}"));
            group.throughput(Throughput::Bytes(bytes));
            if name == "gpt2_small" {
                group.sample_size(10);
            }
            let (l1, l2) = (L1::new(1e-4).unwrap(), L2::new(1e-4).unwrap());
            let penalty = |m: &[Vec<f32>]| {
                if op == "l1" {
                    l1.penalty_model(m)
                } else {
                    l2.penalty_model(m)
                }
            };
            group.bench_function("regnorm penalty_model", |b| {
                b.iter(|| black_box(penalty(black_box(&model))))
            });
            let (l1s, l2s) = (
                l1.with_exec(Exec::sequential()),
                l2.with_exec(Exec::sequential()),
            );
            group.bench_function("regnorm per-tensor loop, one thread", |b| {
                b.iter(|| {
                    let total: f64 = black_box(&model)
                        .iter()
                        .map(|t| {
                            if op == "l1" {
                                l1s.penalty(t)
                            } else {
                                l2s.penalty(t)
                            }
                        })
                        .sum();
                    black_box(total)
                })
            });
            peer_loops(&mut group, op, &model);
            group.finish();
        }
    }
}

/// The loop a user writes with each peer: the penalty of every tensor,
/// summed.
fn peer_loops<T: PeerFloat>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    op: &str,
    model: &[Vec<T>],
) {
    for peer in T::peers() {
        if let Some(f) = peer.reduction(op != "l1") {
            group.bench_function(format!("{} per-tensor loop", peer.name), |b| {
                b.iter(|| black_box(1e-4 * black_box(model).iter().map(|t| f(t)).sum::<f64>()))
            });
        }
    }
}

/// GPT-2 small in bf16, as models are trained today: regnorm's one call
/// against the per-tensor loops of the half peers.
fn gpt2_bf16(c: &mut Criterion) {
    let shapes = regnorm_support::gpt2_small();
    let model: Vec<Vec<half::bf16>> = regnorm_support::tensors(&shapes, 5)
        .into_iter()
        .map(|t| t.into_iter().map(half::bf16::from_f32).collect())
        .collect();
    let bytes = (shapes.iter().sum::<usize>() * 2) as u64;
    for op in ["l1", "l2"] {
        let mut group = c.benchmark_group(format!("model_{op}/gpt2_small_bf16"));
        group.throughput(Throughput::Bytes(bytes));
        group.sample_size(10);
        let (l1, l2) = (L1::new(1e-4).unwrap(), L2::new(1e-4).unwrap());
        group.bench_function("regnorm penalty_model", |b| {
            b.iter(|| {
                let m = black_box(&model);
                black_box(if op == "l1" {
                    l1.penalty_model(m)
                } else {
                    l2.penalty_model(m)
                })
            })
        });
        peer_loops(&mut group, op, &model);
        group.finish();
    }
}

criterion_group! {
    name = model;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(15);
    targets = models, gpt2_bf16
}
criterion_main!(model);
