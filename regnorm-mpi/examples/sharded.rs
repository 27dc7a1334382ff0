//! A GPT-2-small-shaped model (148 tensors, 124,439,808 `f32` values) sharded
//! over the MPI ranks: whole tensors round-robin, the two largest split over
//! all ranks. Every rank computes the L1 and L2 penalties and the clipping
//! norm of the gradients with `regnorm-mpi`, checks them (and its clipped
//! gradients, and the fused penalty+gradient) against one process computing
//! over the whole model, and rank 0 prints
//!
//! ```text
//! l1 0x<f64 bits in hex>
//! l2 0x<f64 bits in hex>
//! grad_norm 0x<f64 bits in hex>
//! ```
//!
//! which are the same for every number of ranks. Exits 1 on any mismatch.
//!
//! ```text
//! cargo build --release -p regnorm-mpi --example sharded
//! mpirun -n 4 target/release/examples/sharded     # as root: --allow-run-as-root; more ranks than cores: --oversubscribe
//! ```

mod common;

use std::process::ExitCode;

use common::{my_share, shapes};
use regnorm::{ClipGradNorm, L1, L2, Regularizer};
use regnorm_mpi::{Layout, Piece, Sharded};

const L1_LAMBDA: f64 = 1e-4;
const L2_LAMBDA: f64 = 1e-3;
const MAX_NORM: f64 = 1.0;

fn main() -> ExitCode {
    let universe = mpi::initialize().expect("MPI initialized once");
    let world = universe.world();
    let sharded = Sharded::new(&world);
    let (rank, size) = (sharded.rank(), sharded.size());

    let shapes = shapes::gpt2_small();
    let weights = shapes::tensors(&shapes, 1);
    let grads = shapes::tensors(&shapes, 2);
    let layout = Layout::of(&weights);
    let mine = my_share(&layout, rank, size);
    let pieces: Vec<Piece<&[f32]>> = mine
        .iter()
        .map(|(t, r)| Piece::new(*t, r.start, &weights[*t][r.clone()]))
        .collect();

    // Sharded.
    let l1 = sharded.penalty(L1::new(L1_LAMBDA), &layout, &pieces);
    let l2 = sharded.penalty(L2::new(L2_LAMBDA), &layout, &pieces);
    let mut my_grads: Vec<Vec<f32>> = mine
        .iter()
        .map(|(t, r)| grads[*t][r.clone()].to_vec())
        .collect();
    let mut grad_pieces: Vec<Piece<&mut [f32]>> = mine
        .iter()
        .zip(&mut my_grads)
        .map(|((t, r), g)| Piece::new(*t, r.start, &mut g[..]))
        .collect();
    let grad_norm = sharded.clip_grad_norm(ClipGradNorm::new(MAX_NORM), &layout, &mut grad_pieces);
    let mut fused_grads: Vec<Vec<f32>> = mine
        .iter()
        .map(|(t, r)| grads[*t][r.clone()].to_vec())
        .collect();
    let fused =
        sharded.penalty_and_gradient(L2::new(L2_LAMBDA), &layout, &pieces, &mut fused_grads);

    // One process, over the whole model.
    let one_l1 = L1::new(L1_LAMBDA).unwrap().penalty_model(&weights);
    let one_l2 = L2::new(L2_LAMBDA).unwrap().penalty_model(&weights);
    let mut clipped = grads.clone();
    let one_norm = ClipGradNorm::new(MAX_NORM)
        .unwrap()
        .clip_model(&mut clipped)
        .unwrap();
    let mut one_fused_grads = grads;
    let one_fused = L2::new(L2_LAMBDA)
        .unwrap()
        .penalty_and_gradient_model(&weights, &mut one_fused_grads)
        .unwrap();

    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
    let mut failures = Vec::new();
    let mut check = |what: &str, got: &Result<f64, regnorm::Error>, want: f64| match got {
        Ok(v) if v.to_bits() == want.to_bits() => {}
        other => failures.push(format!("{what}: {other:?}, one process: {want:?}")),
    };
    check("l1", &l1, one_l1);
    check("l2", &l2, one_l2);
    check("grad_norm", &grad_norm, one_norm);
    check("penalty_and_gradient", &fused, one_fused);
    for ((t, r), (g, f)) in mine.iter().zip(my_grads.iter().zip(&fused_grads)) {
        if !same(g, &clipped[*t][r.clone()]) {
            failures.push(format!("clipped gradients of tensor {t} {r:?} differ"));
        }
        if !same(f, &one_fused_grads[*t][r.clone()]) {
            failures.push(format!("penalty gradients of tensor {t} {r:?} differ"));
        }
    }
    if rank == 0 {
        // The sharded results (equal to the one-process ones unless a
        // mismatch is reported below).
        for (name, value) in [("l1", l1), ("l2", l2), ("grad_norm", grad_norm)] {
            match value {
                Ok(v) => println!("{name} {:#018x}", v.to_bits()),
                Err(e) => println!("{name} error: {e}"),
            }
        }
    }
    for f in &failures {
        eprintln!("rank {rank} of {size}: MISMATCH {f}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
