//! Criterion benchmarks of the training-step kernels, in GB/s of memory
//! moved (bytes read + bytes written), default 2-thread rayon pool:
//!
//! * at 64 Mi f32: the fused penalty + gradient against the two-pass way
//!   (penalty, then gradient), the proximal step, weight decay, and a plain
//!   memory copy (one thread, and split over the pool) as the yardstick;
//! * over a ResNet-18-shaped model (62 tensors, 11.7 M values) and a
//!   GPT-2-small-shaped one (148 tensors, 124 M values): gradient clipping
//!   (norm only, and norm + scaling), per-tensor norms and the fused
//!   penalty + gradient, against one `sum_sq` over a flat buffer of the
//!   same size.
//!
//! `cargo bench --bench training_step` (about 3 minutes).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use regnorm::{ClipGradNorm, Exec, L1, Regularizer, WeightDecay};

const N: usize = 64 << 20;

fn elementwise(c: &mut Criterion) {
    let w: Vec<f32> = regnorm_support::tensors(&[N], 1).remove(0);
    let mut g: Vec<f32> = regnorm_support::tensors(&[N], 2).remove(0);
    let mut x = w.clone();
    let bytes = size_of_val(&w[..]) as u64;
    let l1 = L1::new(1e-9).unwrap();

    let mut group = c.benchmark_group("elementwise_64Mi_f32");
    group.throughput(Throughput::Bytes(3 * bytes));
    group.bench_function("fused_penalty_gradient", |b| {
        b.iter(|| {
            black_box(
                l1.penalty_and_gradient(black_box(&w), black_box(&mut g))
                    .unwrap(),
            )
        })
    });
    // Same bytes counted as the fused call, so the GB/s ratio is the speedup.
    group.bench_function("two_pass_penalty_then_gradient", |b| {
        b.iter(|| {
            let p = l1.penalty(black_box(&w));
            l1.add_gradient(black_box(&w), black_box(&mut g)).unwrap();
            black_box(p)
        })
    });
    group.bench_function("add_gradient", |b| {
        b.iter(|| l1.add_gradient(black_box(&w), black_box(&mut g)).unwrap())
    });
    group.throughput(Throughput::Bytes(2 * bytes));
    group.bench_function("prox_step", |b| {
        b.iter(|| black_box(l1.prox_step(black_box(&mut x), 1.0).unwrap()))
    });
    let decay = WeightDecay::new(1e-9).unwrap();
    group.bench_function("weight_decay", |b| {
        b.iter(|| decay.apply(black_box(&mut x), 1.0).unwrap())
    });
    group.bench_function("memcpy_one_thread", |b| {
        b.iter(|| x.copy_from_slice(black_box(&w)))
    });
    group.bench_function("memcpy_parallel", |b| {
        b.iter(|| {
            x.par_chunks_mut(1 << 16)
                .zip(black_box(&w[..]).par_chunks(1 << 16))
                .for_each(|(d, s)| d.copy_from_slice(s))
        })
    });
    group.finish();
}

fn models(c: &mut Criterion) {
    for (name, shapes) in [
        ("resnet18", regnorm_support::resnet18()),
        ("gpt2_small", regnorm_support::gpt2_small()),
    ] {
        let params = regnorm_support::tensors(&shapes, 3);
        let mut grads = regnorm_support::tensors(&shapes, 4);
        let total: usize = shapes.iter().sum();
        let flat: Vec<f32> = grads.concat();
        let bytes = (total * 4) as u64;
        let mut group = c.benchmark_group(format!("model_{name}_f32"));
        group.sample_size(10);
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function("sum_sq_flat_buffer", |b| {
            b.iter(|| black_box(regnorm::sum_sq(black_box(&flat))))
        });
        let never = ClipGradNorm::new(f64::INFINITY).unwrap();
        group.bench_function("clip_norm_only", |b| {
            b.iter(|| black_box(never.clip_model(black_box(&mut grads)).unwrap()))
        });
        group.bench_function("tensor_norms", |b| {
            b.iter(|| black_box(Exec::new().tensor_norms(black_box(&grads))))
        });
        // Clipping that triggers reads everything, then reads and writes it.
        group.throughput(Throughput::Bytes(3 * bytes));
        // Each timed call starts from the original gradients (restored
        // outside the timing), so that every call really scales.
        let always = ClipGradNorm::new(1e-3).unwrap();
        let original = grads.clone();
        group.bench_function("clip_and_scale", |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    for (g, o) in grads.iter_mut().zip(&original) {
                        g.copy_from_slice(o);
                    }
                    let start = std::time::Instant::now();
                    black_box(always.clip_model(black_box(&mut grads)).unwrap());
                    timed += start.elapsed();
                }
                timed
            })
        });
        let l1 = L1::new(1e-9).unwrap();
        group.bench_function("fused_penalty_gradient", |b| {
            b.iter(|| {
                black_box(
                    l1.penalty_and_gradient_model(black_box(&params), black_box(&mut grads))
                        .unwrap(),
                )
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = training;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .sample_size(25);
    targets = elementwise, models
}
criterion_main!(training);
