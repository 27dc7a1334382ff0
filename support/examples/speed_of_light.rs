//! regnorm against this machine's speed of light, in one process: the cases
//! of the speed issue, each as a fraction of the faster of two ceilings
//! (`regnorm_support::ceiling`), in each round: the one-thread ceiling (the
//! fastest of the ceiling kernels) and the two-thread one (a spinning
//! worker; one buffer split in halves, a list of tensors split between
//! tensors). regnorm is called back-to-back from the main thread and from
//! a worker of a 2-thread rayon pool (each thread's calls against the
//! one-thread ceiling timed on that thread just after them; the two-thread
//! ceiling, like regnorm, after an untimed batch).
//!
//! The cases: the kernels at sizes from L1 to DRAM; the fused penalty and
//! gradient in cache against ceilings that do the same work (read weights
//! and gradients, write the gradients, at the same offsets as regnorm's;
//! the GB/s count the weights only); the in-place updates (weight decay,
//! the L1 prox step) at every size, against ceilings that scale or
//! soft-threshold a copy of the weights; whole models against the ceilings
//! over a flat buffer of the same bytes; a model's small tensors against
//! the ceilings over a flat buffer and tensor by tensor; and the CPU the
//! library burns in the second after a burst.
//!
//! ```sh
//! cargo run --release -p regnorm-support --example speed_of_light            # about 25 minutes (24 min on a 2-vCPU Xeon)
//! cargo run --release -p regnorm-support --example speed_of_light -- quick   # fewer rounds
//! cargo run --release -p regnorm-support --example speed_of_light -- "f32 sum" ResNet idle  # only these cases
//! ```
//!
//! Run it alone: on 2 cores a second busy process ruins every figure.

use std::hint::black_box;
use std::time::{Duration, Instant};

use regnorm::{ClipGradNorm, Element, L1, L2, Regularizer, WeightDecay};
use regnorm_support::ceiling::{
    CeilingFloat, Kernel, Op, SpinPair, Update, ceiling_kernels, fastest_kernels,
};
use regnorm_support::timing::{calls_for, median, seconds_per_call};

/// Seconds per call over one batch of back-to-back calls: about 2 ms, and
/// at least 20 calls (on this kind of shared machine the first few calls
/// after other work run slow, and a batch of 5 whole-model calls read
/// regnorm and the ceilings well below what a longer run reads).
fn batch(bytes: usize, f: impl FnMut()) -> f64 {
    seconds_per_call(calls_for(bytes), f)
}

/// The ceiling kernels a case is judged against: the three fastest by the
/// best of three interleaved sweeps of one batch each (after an untimed
/// batch), picked once per case.
fn pick(bytes: usize, kernels: &[Kernel], mut run: impl FnMut(Kernel)) -> Vec<Kernel> {
    batch(bytes, || run(kernels[0]));
    fastest_kernels(kernels, 3, 3, |k| batch(bytes, || run(k)))
        .into_iter()
        .map(|(_, k)| k)
        .collect()
}

/// Seconds per call of the ceiling in one round: after an untimed batch,
/// the best of a batch of each picked kernel. (Sweeping every kernel each
/// round and keeping the best batch would set the minimum of dozens of
/// samples against one sample of regnorm: a ceiling from the luckiest
/// moment of the round.)
fn fastest(bytes: usize, picked: &[Kernel], mut run: impl FnMut(Kernel)) -> f64 {
    batch(bytes, || run(picked[0]));
    picked
        .iter()
        .map(|&k| batch(bytes, || run(k)))
        .fold(f64::INFINITY, f64::min)
}

/// Waits long enough for regnorm's helper to park (it polls for 300 µs
/// after its last job), polling rather than sleeping: on a shared VM the
/// first work after a sleep runs slow (the virtual CPU was halted), which
/// would bias whatever is timed next.
fn let_helpers_park() {
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(1) {
        std::hint::spin_loop();
    }
}

/// Median GB/s of regnorm from the main thread and from a pool worker, of
/// the one-thread ceiling (the faster tier, on the main thread) and of the
/// two-thread one, and the medians of the per-round ratios: each round
/// times a batch of each, back to back, so a slow spell of this shared
/// machine hits all of them.
struct Speeds {
    main: f64,
    worker: f64,
    one: f64,
    two: f64,
    /// Median of the rounds' main / the faster ceiling (the one-thread one
    /// timed on main, or the two-thread one) and worker / the faster
    /// ceiling (the one-thread one timed on that worker, or the two-thread
    /// one).
    ratios: [f64; 2],
}

/// What a case's ceilings compute.
enum Ceiling<'a, T> {
    /// Reduce the slices one after another: one flat buffer for the
    /// kernels and models, each small tensor for the per-tensor ceiling;
    /// on one thread, and on two with a spinning worker.
    Reduce(&'a [&'a [T]], Op),
    /// An in-place update of the scratch weights `w`.
    Update { w: &'a mut [T], u: Update },
    /// The fused penalty and gradient over `w` into the scratch `g`.
    Gradient {
        w: &'a [T],
        g: &'a mut [T],
        c: f64,
        op: Op,
    },
}

fn speeds<T: CeilingFloat>(
    mut ceiling: Ceiling<'_, T>,
    rounds: usize,
    pool: &rayon::ThreadPool,
    ours: &mut (dyn FnMut() -> f64 + Send),
) -> Speeds {
    let bytes: usize = match &ceiling {
        Ceiling::Reduce(xs, _) => xs.iter().map(|x| size_of_val(*x)).sum(),
        Ceiling::Gradient { w, .. } => size_of_val(*w),
        Ceiling::Update { w, .. } => size_of_val(*w),
    };
    let kernels = ceiling_kernels();
    // Warm up every path once.
    for _ in 0..3 {
        black_box(ours());
        pool.install(|| black_box(ours()));
    }
    let_helpers_park();
    let one_picked = pick(bytes, &kernels, one_thread(&mut ceiling));
    let two_picked = pick(
        bytes,
        &kernels,
        two_threads(&mut SpinPair::new(), &mut ceiling),
    );
    // One round of the one-thread ceiling on the calling thread, once
    // regnorm's helper has parked, so that it takes no core from the
    // ceiling.
    let one_round = |ceiling: &mut Ceiling<'_, T>| {
        let_helpers_park();
        fastest(bytes, &one_picked, one_thread(ceiling))
    };
    let mut rows: Vec<[f64; 5]> = Vec::new();
    for _ in 0..rounds {
        // Back-to-back calls: an untimed batch first wakes regnorm's helper
        // (and the virtual CPU it runs on). Each thread's calls are compared
        // with the one-thread ceiling on that same thread, timed right
        // after them: the two virtual CPUs of a shared machine are not
        // equally fast at the same moment.
        batch(bytes, || _ = black_box(ours()));
        let main = batch(bytes, || _ = black_box(ours()));
        let one_main = one_round(&mut ceiling);
        let (worker, one_worker) = pool.install(|| {
            batch(bytes, || _ = black_box(ours()));
            let worker = batch(bytes, || _ = black_box(ours()));
            (worker, one_round(&mut ceiling))
        });
        // The spinning worker lives only while the two-thread ceiling
        // runs; like regnorm, it gets an untimed batch first (its thread
        // starting, its half reaching its cache).
        let_helpers_park();
        let mut pair = SpinPair::new();
        let two = fastest(bytes, &two_picked, two_threads(&mut pair, &mut ceiling));
        rows.push([main, worker, one_main, two, one_worker]);
    }
    let gbs = |k: usize| bytes as f64 / 1e9 / median(rows.iter().map(|r| r[k]).collect());
    let ratio = |a: usize, b: usize| median(rows.iter().map(|r| r[b].min(r[3]) / r[a]).collect());
    Speeds {
        main: gbs(0),
        worker: gbs(1),
        one: gbs(2),
        two: gbs(3),
        ratios: [ratio(0, 2), ratio(1, 4)],
    }
}

/// One call of the one-thread ceiling with kernel `t`, on the calling thread.
fn one_thread<'c, 'a, T: CeilingFloat>(
    ceiling: &'c mut Ceiling<'a, T>,
) -> impl FnMut(Kernel) + use<'c, 'a, T> {
    move |t| match ceiling {
        Ceiling::Reduce(xs, op) => {
            for x in xs.iter() {
                black_box(T::reduce(black_box(x), *op, t));
            }
        }
        Ceiling::Gradient { w, g, c, op } => {
            black_box(T::gradient(black_box(w), g, *c, *op, t));
        }
        Ceiling::Update { w, u } => _ = black_box(T::update(w, *u, t)),
    }
}

/// One call of the two-thread ceiling with kernel `k`, between the calling
/// thread and `pair`'s spinning worker: one slice split in halves, several
/// split between slices, the gradient's weights and gradients in halves.
fn two_threads<'c, 'a, T: CeilingFloat>(
    pair: &'c mut SpinPair<T>,
    ceiling: &'c mut Ceiling<'a, T>,
) -> impl FnMut(Kernel) + use<'c, 'a, T> {
    move |k| match ceiling {
        Ceiling::Reduce([x], op) => _ = black_box(pair.run(black_box(x), *op, k)),
        Ceiling::Reduce(xs, op) => _ = black_box(pair.run_tensors(black_box(xs), *op, k)),
        Ceiling::Gradient { w, g, c, op } => {
            _ = black_box(pair.run_gradient(black_box(w), g, *c, *op, k));
        }
        Ceiling::Update { w, u } => _ = black_box(pair.run_update(w, *u, k)),
    }
}

/// The 64-byte-aligned `n` values inside `store` (which holds `n + 16`).
fn aligned_in<T>(store: &mut [T], n: usize) -> &mut [T] {
    let skip = store.as_ptr().align_offset(64).min(16);
    &mut store[skip..skip + n]
}

/// A 64-byte-aligned slice of `n` values in [-1, 1) (the ceilings read the
/// same slice, so neither pays for cache-line-splitting loads).
fn aligned<T: Element + From<f32>>(n: usize, store: &mut Vec<T>) -> &[T] {
    *store = regnorm_support::tensors(&[n + 16], 7)
        .remove(0)
        .into_iter()
        .map(T::from)
        .collect();
    aligned_in(store, n)
}

/// A 64-byte-aligned slice of `n` zeros (gradients: regnorm's and the
/// ceiling's start at the same alignment as the weights).
fn aligned_zeros<T: Element + From<f32>>(n: usize, store: &mut Vec<T>) -> &mut [T] {
    *store = vec![T::from(0.0); n + 16];
    aligned_in(store, n)
}

/// A copy of `values` at the same offset within a 4 KiB page as `like`:
/// the buffers a ceiling writes, beside regnorm's (a store and a later
/// load whose addresses match in their low 12 bits can stall the load, so
/// buffers at other offsets would not run the same loop at the same speed).
fn copy_like<'s, T: Element + From<f32>>(
    values: &[T],
    store: &'s mut Vec<T>,
    like: &[T],
) -> &'s mut [T] {
    const PAGE: usize = 4096;
    let n = values.len();
    *store = vec![T::from(0.0); n + PAGE / size_of::<T>()];
    let gap = (like.as_ptr() as usize).wrapping_sub(store.as_ptr() as usize) % PAGE;
    let skip = gap / size_of::<T>();
    let copy = &mut store[skip..skip + n];
    copy.copy_from_slice(values);
    copy
}

/// Whether the command line asks for the case `what` (every case if it
/// names none; otherwise those containing one of its words).
fn wanted(what: &str) -> bool {
    let words: Vec<String> = std::env::args().skip(1).filter(|a| a != "quick").collect();
    words.is_empty() || words.iter().any(|w| what.contains(w.as_str()))
}

/// Measures and prints the case `what` if it is wanted.
fn case(what: &str, measure: impl FnOnce() -> Speeds) {
    if wanted(what) {
        report(what, &measure());
    }
}

fn report(what: &str, s: &Speeds) {
    let ceilings = if s.two.is_nan() {
        format!("1T {:.1}", s.one)
    } else {
        format!("1T {:.1} · 2T {:.1}", s.one, s.two)
    };
    println!(
        "| {what} | {:.1} / {:.1} | {ceilings} | {} | {:.2} / {:.2} |",
        s.main,
        s.worker,
        if s.two > s.one { "2T" } else { "1T" },
        s.ratios[0],
        s.ratios[1]
    );
}

/// Σ|x|, Σx² (and both in one pass, at cache sizes) at each size.
fn kernels<T: CeilingFloat + Element + From<f32>>(
    name: &str,
    sizes: &[usize],
    rounds: usize,
    pool: &rayon::ThreadPool,
) {
    let mut store = Vec::new();
    for &n in sizes {
        let x = aligned::<T>(n, &mut store);
        let two_threads = size_of_val(x) >= 1 << 20;
        case(&format!("{name} sum_abs, {n}"), || {
            speeds(Ceiling::Reduce(&[x], Op::Abs), rounds, pool, &mut || {
                regnorm::sum_abs(black_box(x))
            })
        });
        case(&format!("{name} sum_sq, {n}"), || {
            speeds(Ceiling::Reduce(&[x], Op::Sq), rounds, pool, &mut || {
                regnorm::sum_sq(black_box(x))
            })
        });
        if !two_threads {
            // Both sums in one pass, against a ceiling that computes both.
            case(&format!("{name} sums, {n}"), || {
                speeds(Ceiling::Reduce(&[x], Op::Both), rounds, pool, &mut || {
                    regnorm::sums(black_box(x)).sq
                })
            });
            // The fused penalty and gradient (reads the weights and the
            // gradients, writes the gradients), against a ceiling that
            // does the same: Σ|w| and g += λ·sign(w), Σw² and g += 2λ·w.
            let lambda = 1e-4;
            let (l1, l2) = (L1::new(lambda).unwrap(), L2::new(lambda).unwrap());
            for (reg, op, c) in [("L1", Op::Abs, lambda), ("L2", Op::Sq, 2.0 * lambda)] {
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                let g = aligned_zeros::<T>(n, &mut ours);
                let g_ceiling = copy_like(g, &mut theirs, g);
                case(&format!("{name} penalty_and_gradient {reg}, {n}"), || {
                    let ceiling = Ceiling::Gradient {
                        w: x,
                        g: g_ceiling,
                        c,
                        op,
                    };
                    speeds(ceiling, rounds, pool, &mut || {
                        let r = if op == Op::Abs {
                            l1.penalty_and_gradient(black_box(x), g)
                        } else {
                            l2.penalty_and_gradient(black_box(x), g)
                        };
                        r.unwrap()
                    })
                });
            }
        }
        // The in-place updates (each reads and writes the weights; GB/s
        // count them once), against ceilings that do the same: weight
        // decay's scaling, and the L1 prox step's soft threshold with the
        // new Σ|w| (regnorm's also counts the zeros). The factors keep the
        // weights normal over a whole run.
        let decay = WeightDecay::new(1e-4).unwrap();
        let l1 = L1::new(1e-4).unwrap();
        for (what, u) in [
            ("weight decay apply", Update::Scale(1.0 - 1e-7)),
            ("L1 prox_step", Update::Shrink(1e-9)),
        ] {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            let w = aligned_zeros::<T>(n, &mut ours);
            w.copy_from_slice(x);
            let w_ceiling = copy_like(x, &mut theirs, w);
            case(&format!("{name} {what}, {n}"), || {
                let ceiling = Ceiling::Update { w: w_ceiling, u };
                speeds(ceiling, rounds, pool, &mut || match u {
                    Update::Scale(_) => {
                        decay.apply(black_box(&mut *w), 1e-3).unwrap();
                        0.0
                    }
                    Update::Shrink(_) => l1.prox_step(black_box(&mut *w), 1e-5).unwrap().penalty,
                })
            });
        }
    }
}

/// Half types against f32 over the same bytes: GB/s of each, from the main
/// thread, in interleaved rounds, and the medians of the per-round ratios.
fn half_types(rounds: usize) {
    println!("\n| half case (same bytes as f32) | bf16 | f16 | f32 | bf16 / f32 | f16 / f32 |");
    println!("|---|---:|---:|---:|---:|---:|");
    for bytes in [4_000usize, 64 << 10, 1 << 20, 4 << 20, 16 << 20] {
        let data = regnorm_support::tensors(&[bytes / 2], 9).remove(0);
        let b: Vec<half::bf16> = data.iter().map(|&v| half::bf16::from_f32(v)).collect();
        let h: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
        let f: Vec<f32> = data[..bytes / 4].to_vec();
        for (op, sq) in [("sum_abs", false), ("sum_sq", true)] {
            let what = format!("{op}, {} KiB", bytes >> 10);
            if !wanted(&what) && !wanted("half") {
                continue;
            }
            fn call<T: Element>(x: &[T], sq: bool) -> f64 {
                if sq {
                    regnorm::sum_sq(x)
                } else {
                    regnorm::sum_abs(x)
                }
            }
            let mut rows = Vec::new();
            for _ in 0..rounds {
                let tb = batch(bytes, || _ = black_box(call(black_box(&b[..]), sq)));
                let th = batch(bytes, || _ = black_box(call(black_box(&h[..]), sq)));
                let tf = batch(bytes, || _ = black_box(call(black_box(&f[..]), sq)));
                rows.push([tb, th, tf]);
            }
            let gbs = |k: usize| bytes as f64 / 1e9 / median(rows.iter().map(|r| r[k]).collect());
            let ratio = |k: usize| median(rows.iter().map(|r| r[2] / r[k]).collect());
            println!(
                "| {what} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
                gbs(0),
                gbs(1),
                gbs(2),
                ratio(0),
                ratio(1)
            );
        }
    }
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
    if ceiling_kernels().is_empty() {
        println!("no AVX2+FMA or AVX-512 on this CPU: no ceiling to compare with");
        return;
    }
    let quick = std::env::args().any(|a| a == "quick");
    let rounds = if quick { 15 } else { 41 };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    println!("regnorm vs the speed of light on this machine (GB/s of input, medians)\n");
    println!(
        "| case | regnorm main / worker | ceilings | faster | ratio main / worker (median of rounds) |"
    );
    println!("|---|---:|---:|---|---:|");
    let mut f32s = Vec::new();
    kernels::<f32>(
        "f32",
        &[1_000, 16_384, 262_144, 1 << 20, 1 << 22],
        rounds,
        &pool,
    );
    kernels::<f64>("f64", &[1_000, 16_384, 262_144], rounds, &pool);
    // Whole models: against the ceilings over a flat buffer of the same
    // number of values.
    let l1 = L1::new(1e-4).unwrap();
    let l2 = L2::new(1e-4).unwrap();
    let clip = ClipGradNorm::new(f64::MAX).unwrap();
    for (name, shapes) in [
        ("ResNet-18", regnorm_support::resnet18()),
        ("GPT-2 small", regnorm_support::gpt2_small()),
    ] {
        if (quick && name == "GPT-2 small") || !wanted(name) {
            continue;
        }
        let mut model = regnorm_support::tensors(&shapes, 3);
        let total: usize = shapes.iter().sum();
        let flat = aligned::<f32>(total, &mut f32s);
        case(&format!("{name} L1 penalty_model"), || {
            speeds(
                Ceiling::Reduce(&[flat], Op::Abs),
                rounds,
                &pool,
                &mut || l1.penalty_model(black_box(&model)),
            )
        });
        case(&format!("{name} L2 penalty_model"), || {
            speeds(Ceiling::Reduce(&[flat], Op::Sq), rounds, &pool, &mut || {
                l2.penalty_model(black_box(&model))
            })
        });
        // A norm below max_norm: clipping reads the gradients once, writes nothing.
        let model = std::sync::Mutex::new(&mut model);
        case(&format!("{name} clip_model (norm, below max_norm)"), || {
            speeds(Ceiling::Reduce(&[flat], Op::Sq), rounds, &pool, &mut || {
                clip.clip_model(&mut **model.lock().unwrap()).unwrap()
            })
        });
    }
    // The small tensors of a model (batch-norm and layer-norm parameters,
    // biases): many kernel calls of a few KiB each, in cache, against the
    // ceilings over a flat buffer of the same number of values, and tensor
    // by tensor (the two-thread one splitting the list of tensors).
    for (name, shapes) in [
        ("ResNet-18", regnorm_support::resnet18()),
        ("GPT-2 small", regnorm_support::gpt2_small()),
    ] {
        let small: Vec<usize> = shapes.into_iter().filter(|&n| n <= 4_096).collect();
        let total: usize = small.iter().sum();
        let what = format!(
            "{name} small tensors ({}, {} KiB)",
            small.len(),
            (total * 4) >> 10
        );
        if !wanted(&what) {
            continue;
        }
        let model = regnorm_support::tensors(&small, 5);
        let flat = aligned::<f32>(total, &mut f32s);
        let tensors: Vec<&[f32]> = model.iter().map(Vec::as_slice).collect();
        for (ceiling, xs) in [("flat", &[flat][..]), ("per tensor", &tensors[..])] {
            case(&format!("{what} L1 penalty_model, {ceiling}"), || {
                speeds(Ceiling::Reduce(xs, Op::Abs), rounds, &pool, &mut || {
                    l1.penalty_model(black_box(&model))
                })
            });
            case(&format!("{what} L2 penalty_model, {ceiling}"), || {
                speeds(Ceiling::Reduce(xs, Op::Sq), rounds, &pool, &mut || {
                    l2.penalty_model(black_box(&model))
                })
            });
        }
    }
    if wanted("half") {
        half_types(rounds);
    }
    if !wanted("idle") {
        return;
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
