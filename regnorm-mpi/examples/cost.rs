//! What sharding costs: on a GPT-2-small-shaped model (laid out as the
//! `sharded` example does), the time of each rank's local kernel pass
//! against the exchange of the partials (the all-gather) and their merge,
//! for the L1 and L2 penalties and the clipping norm. Each rank runs its
//! kernels on one thread (`Exec::sequential()`: one rank per core, as MPI
//! jobs run). Medians of `REPS` calls; the ranks are synchronized by a
//! barrier before each timed phase, so a phase's time is its own, not the
//! wait for a slower rank. Rank 0 prints the slowest rank's medians.
//!
//! ```text
//! cargo build --release -p regnorm-mpi --example cost
//! mpirun -n 2 target/release/examples/cost
//! mpirun --oversubscribe -n 4 target/release/examples/cost
//! ```

mod common;

use std::time::Instant;

use common::{my_share, shapes};
use mpi::collective::SystemOperation;
use mpi::traits::*;
use regnorm::shard::Partial;
use regnorm::{ClipGradNorm, Exec, L1, L2, Regularizer};
use regnorm_mpi::{Layout, Piece, Sharded};

const REPS: usize = 15;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let universe = mpi::initialize().expect("MPI initialized once");
    let world = universe.world();
    let sharded = Sharded::new(&world);
    let (rank, size) = (sharded.rank(), sharded.size());

    let shapes = shapes::gpt2_small();
    let layout = Layout::<f32>::new(shapes.iter().copied());
    let mine = my_share(&layout, rank, size);
    let local: Vec<Vec<f32>> = shapes::tensors(
        &mine.iter().map(|(_, r)| r.len()).collect::<Vec<_>>(),
        1 + rank as u64,
    );
    let pieces: Vec<Piece<&[f32]>> = mine
        .iter()
        .zip(&local)
        .map(|((t, r), w)| Piece::new(*t, r.start, &w[..]))
        .collect();
    let mut grads = local.clone();
    let mut grad_pieces: Vec<Piece<&mut [f32]>> = mine
        .iter()
        .zip(&mut grads)
        .map(|((t, r), g)| Piece::new(*t, r.start, &mut g[..]))
        .collect();
    let bytes: usize = local.iter().map(|w| w.len() * 4).sum();

    let exec = Exec::sequential();
    let l1 = L1::new(1e-4).unwrap().with_exec(exec);
    let l2 = L2::new(1e-3).unwrap().with_exec(exec);
    // +Inf never clips, so every call reads the same gradients.
    let clip = ClipGradNorm::new(f64::INFINITY).unwrap().with_exec(exec);
    // Each case: the local kernels alone (as a partial), and the whole call.
    // The gradients are a copy of the weights, so clipping's partial is
    // taken over the weights' pieces (the same values).
    type Build<'a> = Box<dyn Fn() -> Partial + 'a>;
    type Call<'a> = Box<dyn FnMut() -> f64 + 'a>;
    let mut cases: [(&str, Build, Call); 3] = [
        (
            "L1 penalty",
            Box::new(|| l1.penalty_partial(&layout, &pieces)),
            Box::new(|| sharded.penalty(&l1, &layout, &pieces).unwrap()),
        ),
        (
            "L2 penalty",
            Box::new(|| l2.penalty_partial(&layout, &pieces)),
            Box::new(|| sharded.penalty(&l2, &layout, &pieces).unwrap()),
        ),
        (
            "clipping norm",
            Box::new(|| exec.partial_sum_sq(&layout, &pieces)),
            Box::new(|| {
                sharded
                    .clip_grad_norm(&clip, &layout, &mut grad_pieces)
                    .unwrap()
            }),
        ),
    ];

    let slowest = |v: f64| {
        let mut max = 0.0;
        world.all_reduce_into(&v, &mut max, SystemOperation::max());
        max
    };
    if rank == 0 {
        println!(
            "{size} ranks; this rank's pieces: {} tensors/pieces, {:.0} MB; medians of {REPS} calls, slowest rank\n",
            pieces.len(),
            bytes as f64 / 1e6
        );
        println!(
            "| call | local kernels | exchange | merge | exchange + merge | ÷ local | whole call |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
    }
    for (name, build, call) in &mut cases {
        let (mut t_local, mut t_exchange, mut t_merge, mut t_call) =
            (vec![], vec![], vec![], vec![]);
        for _ in 0..REPS {
            world.barrier();
            let t = Instant::now();
            let part = build();
            t_local.push(t.elapsed().as_secs_f64());
            world.barrier();
            let t = Instant::now();
            let parts = sharded.exchange(&part).unwrap();
            t_exchange.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let merged = Partial::merge(&layout, &parts).unwrap();
            t_merge.push(t.elapsed().as_secs_f64());
            std::hint::black_box(merged);
            world.barrier();
            let t = Instant::now();
            let v = call();
            t_call.push(t.elapsed().as_secs_f64());
            std::hint::black_box(v);
        }
        let (local, exchange, merge, call) = (
            slowest(median(t_local)),
            slowest(median(t_exchange)),
            slowest(median(t_merge)),
            slowest(median(t_call)),
        );
        if rank == 0 {
            let us = |s: f64| format!("{:.1} µs", s * 1e6);
            println!(
                "| {name} | {:.2} ms | {} | {} | {} | {:.2}% | {:.2} ms |",
                local * 1e3,
                us(exchange),
                us(merge),
                us(exchange + merge),
                100.0 * (exchange + merge) / local,
                call * 1e3
            );
        }
    }
}
