//! A training loop with regnorm: a small multi-layer perceptron (10 → 32 →
//! 32 → 1, tanh) learns disease progression from the diabetes data, with
//! regnorm computing the penalty and its gradient, clipping the global
//! gradient norm and taking the proximal step over all six tensors at every
//! step. It trains a grid of L1 and of L2 strengths, then sets the L1 and
//! L2 models of (nearly) equal validation loss side by side: how many
//! weights are exactly zero, and their histogram.
//!
//! ```sh
//! cargo run --release --example train
//! ```

use regnorm_support::regression;
use std::time::{Duration, Instant};

use regnorm::{ClipGradNorm, L1, L2, Regularizer};

/// Layer sizes.
const SIZES: [usize; 4] = [10, 32, 32, 1];
const STEPS: usize = 2_000;
const LEARNING_RATE: f32 = 0.05;

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// The parameters (or gradients) of the network: W1, b1, W2, b2, W3, b3.
type Tensors = Vec<Vec<f32>>;

fn init(seed: u64) -> Tensors {
    let mut rng = Rng(seed);
    let mut t = Vec::new();
    for l in 0..3 {
        let (fan_in, fan_out) = (SIZES[l], SIZES[l + 1]);
        let scale = (1.0 / fan_in as f32).sqrt();
        t.push(
            (0..fan_in * fan_out)
                .map(|_| (rng.next() * 2.0 - 1.0) * scale * 1.7)
                .collect(),
        );
        t.push(vec![0.0; fan_out]);
    }
    t
}

/// The widest layer.
const WIDEST: usize = 32;

/// Mean squared error over `rows` and, if `grads` is given, its gradient.
fn loss(
    params: &Tensors,
    x: &[f32],
    y: &[f32],
    rows: &[usize],
    mut grads: Option<&mut Tensors>,
) -> f32 {
    if let Some(g) = grads.as_deref_mut() {
        g.iter_mut()
            .for_each(|t| t.iter_mut().for_each(|v| *v = 0.0));
    }
    let mut total = 0.0;
    let mut acts = [[0.0f32; WIDEST]; 4];
    for &i in rows {
        acts[0][..10].copy_from_slice(&x[i * 10..(i + 1) * 10]);
        for l in 0..3 {
            let (w, b) = (&params[2 * l], &params[2 * l + 1]);
            let (n_in, n_out) = (SIZES[l], SIZES[l + 1]);
            for o in 0..n_out {
                let row = &w[o * n_in..(o + 1) * n_in];
                let z = b[o]
                    + row
                        .iter()
                        .zip(&acts[l][..n_in])
                        .map(|(a, c)| a * c)
                        .sum::<f32>();
                acts[l + 1][o] = if l < 2 { z.tanh() } else { z };
            }
        }
        let err = acts[3][0] - y[i];
        total += err * err;
        if let Some(g) = grads.as_deref_mut() {
            let mut delta = [0.0f32; WIDEST];
            delta[0] = 2.0 * err / rows.len() as f32;
            for l in (0..3).rev() {
                let (n_in, n_out) = (SIZES[l], SIZES[l + 1]);
                let mut back = [0.0f32; WIDEST];
                for o in 0..n_out {
                    g[2 * l + 1][o] += delta[o];
                    let gw = &mut g[2 * l][o * n_in..(o + 1) * n_in];
                    let w = &params[2 * l][o * n_in..(o + 1) * n_in];
                    for k in 0..n_in {
                        gw[k] += delta[o] * acts[l][k];
                        back[k] += w[k] * delta[o];
                    }
                }
                for k in 0..n_in {
                    delta[k] = back[k] * (1.0 - acts[l][k] * acts[l][k]);
                }
            }
        }
    }
    total / rows.len() as f32
}

/// Which regularizer a run uses.
#[derive(Clone, Copy)]
enum Penalty {
    L1(L1),
    L2(L2),
}

struct Run {
    name: &'static str,
    lambda: f64,
    validation: f32,
    params: Tensors,
    regnorm_time: Duration,
    step_time: Duration,
}

/// Trains from the same start with `penalty`: per step, the data gradient,
/// then regnorm: L2's penalty and gradient added in one pass (or L1's
/// penalty), the global norm clipped to 1, the SGD step, and L1's proximal
/// step (soft-thresholding: exact zeros).
fn train(penalty: Penalty, x: &[f32], y: &[f32], train_rows: &[usize], val_rows: &[usize]) -> Run {
    let mut params = init(7);
    let mut grads: Tensors = params.iter().map(|t| vec![0.0; t.len()]).collect();
    let clip = ClipGradNorm::new(1.0).unwrap();
    let (mut regnorm_time, start) = (Duration::ZERO, Instant::now());
    for _ in 0..STEPS {
        loss(&params, x, y, train_rows, Some(&mut grads));
        let t = Instant::now();
        match penalty {
            Penalty::L2(l2) => _ = l2.penalty_and_gradient_model(&params, &mut grads).unwrap(),
            Penalty::L1(l1) => _ = l1.penalty_model(&params),
        }
        clip.clip_model(&mut grads).unwrap();
        regnorm_time += t.elapsed();
        for (p, g) in params.iter_mut().zip(&grads) {
            p.iter_mut()
                .zip(g)
                .for_each(|(w, gw)| *w -= LEARNING_RATE * gw);
        }
        if let Penalty::L1(l1) = penalty {
            let t = Instant::now();
            l1.prox_step_model(&mut params, f64::from(LEARNING_RATE))
                .unwrap();
            regnorm_time += t.elapsed();
        }
    }
    let (name, lambda) = match penalty {
        Penalty::L1(r) => ("L1", r.lambda()),
        Penalty::L2(r) => ("L2", r.lambda()),
    };
    Run {
        name,
        lambda,
        validation: loss(&params, x, y, val_rows, None),
        params,
        regnorm_time,
        step_time: start.elapsed(),
    }
}

fn zeros(run: &Run) -> (usize, usize) {
    let all: Vec<f32> = run.params.iter().flatten().copied().collect();
    (all.iter().filter(|&&w| w == 0.0).count(), all.len())
}

/// A text histogram of |w| over decades, exact zeros in their own row.
fn histogram(run: &Run) {
    let all: Vec<f32> = run.params.iter().flatten().map(|w| w.abs()).collect();
    let mut rows: Vec<(String, usize)> = vec![(
        "exactly 0".into(),
        all.iter().filter(|&&w| w == 0.0).count(),
    )];
    for e in -6..=0 {
        let (lo, hi) = (10f32.powi(e), 10f32.powi(e + 1));
        let label = if e == -6 {
            format!("(0, {hi:.0e})")
        } else {
            format!("[{lo:.0e}, {hi:.0e})")
        };
        let count = all
            .iter()
            .filter(|&&w| w > 0.0 && (w >= lo || e == -6) && w < hi)
            .count();
        rows.push((label, count));
    }
    for (label, count) in rows {
        // One mark per 1% of the weights.
        let marks = (100 * count).div_ceil(all.len().max(1));
        println!("  {label:>16} {count:>5} {}", "#".repeat(marks));
    }
}

fn main() {
    let data = regression::Data::diabetes().expect("data/diabetes.csv");
    // Features at unit variance (the paths example's unit norm times √n),
    // the target standardized.
    let scale = (data.n as f64).sqrt();
    let x: Vec<f32> = data.x.iter().map(|&v| (v * scale) as f32).collect();
    let (mean, sd) = {
        let m = data.mean_y();
        let v = data.y.iter().map(|y| (y - m).powi(2)).sum::<f64>() / data.n as f64;
        (m, v.sqrt())
    };
    let y: Vec<f32> = data.y.iter().map(|&v| ((v - mean) / sd) as f32).collect();
    // A fixed shuffle: 80% to train on, 20% to validate.
    let mut order: Vec<usize> = (0..data.n).collect();
    let mut rng = Rng(2024);
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next() * (i + 1) as f32) as usize % (i + 1));
    }
    let (train_rows, val_rows) = order.split_at(data.n * 4 / 5);
    let weights: usize = (0..3).map(|l| SIZES[l] * SIZES[l + 1] + SIZES[l + 1]).sum();
    println!(
        "diabetes, {} patients ({} train, {} validation), MLP {:?} ({weights} parameters, 6 tensors), \
         {STEPS} full-batch SGD steps at η = {LEARNING_RATE}; losses are MSE of the standardized target\n",
        data.n,
        train_rows.len(),
        val_rows.len(),
        SIZES
    );
    let none = train(
        Penalty::L2(L2::new(0.0).unwrap()),
        &x,
        &y,
        train_rows,
        val_rows,
    );
    println!("no penalty: validation loss {:.4}\n", none.validation);
    println!("| penalty | λ | validation loss | exact zeros | regnorm's share of step time |");
    println!("|---|---:|---:|---:|---:|");
    let mut runs = Vec::new();
    for lambda in [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2] {
        for penalty in [
            Penalty::L1(L1::new(lambda).unwrap()),
            Penalty::L2(L2::new(lambda).unwrap()),
        ] {
            let run = train(penalty, &x, &y, train_rows, val_rows);
            let (z, n) = zeros(&run);
            println!(
                "| {} | {:.0e} | {:.4} | {z} of {n} | {:.1}% |",
                run.name,
                run.lambda,
                run.validation,
                100.0 * run.regnorm_time.as_secs_f64() / run.step_time.as_secs_f64()
            );
            runs.push(run);
        }
    }
    // The L1 and L2 runs of nearest validation loss, among those no worse
    // than 10% above the best.
    let best = runs
        .iter()
        .map(|r| r.validation)
        .fold(f32::INFINITY, f32::min);
    let ok = |r: &&Run| r.validation <= best * 1.1;
    let (l1, l2) = runs
        .iter()
        .filter(|r| r.name == "L1")
        .filter(ok)
        .flat_map(|a| {
            runs.iter()
                .filter(|r| r.name == "L2")
                .filter(ok)
                .map(move |b| (a, b))
        })
        .min_by(|p, q| {
            let d = |(a, b): &(&Run, &Run)| (a.validation - b.validation).abs();
            d(p).total_cmp(&d(q))
        })
        .expect("runs");
    println!(
        "\nAt (nearly) equal validation loss: L1 λ = {:.0e} → {:.4}, L2 λ = {:.0e} → {:.4}",
        l1.lambda, l1.validation, l2.lambda, l2.validation
    );
    for run in [l1, l2] {
        let (z, n) = zeros(run);
        println!(
            "\n{} (λ = {:.0e}): {z} of {n} weights exactly zero; |w| histogram:",
            run.name, run.lambda
        );
        histogram(run);
    }
}
