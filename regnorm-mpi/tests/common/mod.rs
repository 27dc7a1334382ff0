//! The scenarios every rank runs, in a test process started by `mpirun` (or
//! alone, as a single rank): sharded calls checked bit for bit against one
//! process computing over the whole model, and bad input that must give
//! every rank the same error without touching a gradient. Each returns
//! lines `name value` (the same on every rank) or `FAIL …`.

use regnorm_support::models as shapes;

use std::ops::Range;

use mpi::traits::Communicator;
use regnorm::{ClipGradNorm, ElasticNet, Error, Exec, L1, L2, Regularizer};
use regnorm_mpi::{Layout, Piece, Sharded};

const UNIT: usize = 16_384;

/// Tensors of two units or more are split over all ranks (rank `r` gets
/// part `(r + t) mod size`); smaller ones go whole to rank `t mod size`.
/// Pieces are listed last tensor first.
fn assign(layout: &Layout<f32>, rank: usize, size: usize) -> Vec<(usize, Range<usize>)> {
    let mut mine = Vec::new();
    for t in (0..layout.tensors()).rev() {
        let len = layout.tensor_len(t).unwrap();
        if len >= 2 * UNIT {
            mine.push((t, layout.split(t, size).unwrap()[(rank + t) % size].clone()));
        } else if t % size == rank {
            mine.push((t, 0..len));
        }
    }
    mine
}

fn pieces<'a>(model: &'a [Vec<f32>], mine: &[(usize, Range<usize>)]) -> Vec<Piece<&'a [f32]>> {
    mine.iter()
        .map(|(t, r)| Piece::new(*t, r.start, &model[*t][r.clone()]))
        .collect()
}

/// This rank's local copies as pieces to write.
fn pieces_mut<'a>(
    local: &'a mut [Vec<f32>],
    mine: &[(usize, Range<usize>)],
) -> Vec<Piece<&'a mut [f32]>> {
    mine.iter()
        .zip(local)
        .map(|((t, r), g)| Piece::new(*t, r.start, &mut g[..]))
        .collect()
}

fn locals(model: &[Vec<f32>], mine: &[(usize, Range<usize>)]) -> Vec<Vec<f32>> {
    mine.iter()
        .map(|(t, r)| model[*t][r.clone()].to_vec())
        .collect()
}

fn hex(v: f64) -> String {
    format!("{:#018x}", v.to_bits())
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

struct Report(Vec<String>);

impl Report {
    /// A value that must be the one-process bits.
    fn value(&mut self, name: &str, got: Result<f64, Error>, want: f64) {
        match got {
            Ok(v) if v.to_bits() == want.to_bits() => self.0.push(format!("{name} {}", hex(v))),
            other => self
                .0
                .push(format!("FAIL {name}: {other:?}, one process {want:?}")),
        }
    }

    /// An error every rank must get, with the local gradients unchanged.
    fn error(&mut self, name: &str, got: Result<f64, Error>, want: Error, untouched: bool) {
        if got == Err(want) && untouched {
            self.0.push(format!("{name} {want:?}"));
        } else {
            self.0.push(format!(
                "FAIL {name}: {got:?} (untouched: {untouched}), want {want:?}"
            ));
        }
    }

    fn check(&mut self, name: &str, ok: bool) {
        if !ok {
            self.0.push(format!("FAIL {name}"));
        }
    }
}

/// Every scenario; `lines` identical on every rank.
pub fn run_all<C: Communicator>(sharded: &Sharded<C>) -> Vec<String> {
    let (rank, size) = (sharded.rank(), sharded.size());
    let mut report = Report(Vec::new());
    let lens = [3 * UNIT + 100, 10, 0, 2 * UNIT, UNIT - 1, 5 * UNIT + 7, 300];
    let model = shapes::tensors(&lens, 1);
    let grads = shapes::tensors(&lens, 2);
    let layout = Layout::of(&model);
    let mine = assign(&layout, rank, size);
    let ps = pieces(&model, &mine);

    // Penalties.
    let l1 = L1::new(0.01).unwrap();
    let l2 = L2::new(0.02).unwrap();
    let en = ElasticNet::new(0.03, 0.4).unwrap();
    report.value(
        "l1",
        sharded.penalty(&l1, &layout, &ps),
        l1.penalty_model(&model),
    );
    report.value(
        "l2",
        sharded.penalty(&l2, &layout, &ps),
        l2.penalty_model(&model),
    );
    report.value(
        "elastic_net",
        sharded.penalty(&en, &layout, &ps),
        en.penalty_model(&model),
    );

    // The fused penalty and gradient.
    let mut whole = grads.clone();
    let want = en.penalty_and_gradient_model(&model, &mut whole).unwrap();
    let mut local = locals(&grads, &mine);
    report.value(
        "penalty_and_gradient",
        sharded.penalty_and_gradient(&en, &layout, &ps, &mut local),
        want,
    );
    let expected = locals(&whole, &mine);
    report.check(
        "penalty_and_gradient's gradients",
        local.iter().zip(&expected).all(|(a, b)| same(a, b)),
    );

    // Clipping (below and above the threshold) and per-tensor norms.
    for max_norm in [1e9, 1.0] {
        let clip = ClipGradNorm::new(max_norm).unwrap();
        let mut whole = grads.clone();
        let want = clip.clip_model(&mut whole).unwrap();
        let mut local = locals(&grads, &mine);
        let mut gp = pieces_mut(&mut local, &mine);
        report.value(
            &format!("grad_norm(max {max_norm})"),
            sharded.clip_grad_norm(&clip, &layout, &mut gp),
            want,
        );
        let expected = locals(&whole, &mine);
        report.check(
            "clipped gradients",
            local.iter().zip(&expected).all(|(a, b)| same(a, b)),
        );
    }
    let norms = sharded.tensor_norms(Exec::new(), &layout, &ps);
    let want = regnorm::tensor_norms(&model);
    match norms {
        Ok(n)
            if n.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits())
                && n.len() == want.len() =>
        {
            report.0.push(format!(
                "tensor_norms {}",
                n.iter().map(|&v| hex(v)).collect::<Vec<_>>().join(" ")
            ));
        }
        other => report.0.push(format!("FAIL tensor_norms {other:?}")),
    }

    // NaN and infinities: the canonical NaN on every rank.
    let mut odd = model.clone();
    odd[5][4 * UNIT + 3] = f32::NAN;
    odd[0][7] = f32::INFINITY;
    let ops = pieces(&odd, &mine);
    report.value(
        "l1 with NaN",
        sharded.penalty(&l1, &layout, &ops),
        l1.penalty_model(&odd),
    );
    odd[5][4 * UNIT + 3] = 0.0;
    let ops = pieces(&odd, &mine);
    report.value(
        "l2 with +Inf",
        sharded.penalty(&l2, &layout, &ops),
        l2.penalty_model(&odd),
    );

    // Many small tensors: more than the exchange's first round holds.
    let many = shapes::tensors(&(0..400).map(|t| 1 + t % 7).collect::<Vec<_>>(), 3);
    let many_layout = Layout::of(&many);
    let many_mine: Vec<(usize, Range<usize>)> = (0..many.len())
        .filter(|t| t % size == rank)
        .map(|t| (t, 0..many[t].len()))
        .collect();
    report.value(
        "l2 of 400 tensors",
        sharded.penalty(&l2, &many_layout, &pieces(&many, &many_mine)),
        l2.penalty_model(&many),
    );
    report.value(
        "l2 of 400 tensors, again",
        sharded.penalty(&l2, &many_layout, &pieces(&many, &many_mine)),
        l2.penalty_model(&many),
    );

    // Bad input: every rank gets the same error, no gradient changes.
    let last = size - 1;
    let fused = |reg: Result<L1, Error>,
                 layout: &Layout<f32>,
                 ps: &[Piece<&[f32]>],
                 mine: &[(usize, Range<usize>)]| {
        let before = locals(&grads, mine);
        let mut local = before.clone();
        let got = sharded.penalty_and_gradient(reg, layout, ps, &mut local);
        (got, local.iter().zip(&before).all(|(a, b)| same(a, b)))
    };
    // A bad λ on the last rank.
    let lambda = if rank == last { -1.0 } else { 0.01 };
    let (got, untouched) = fused(L1::new(lambda), &layout, &ps, &mine);
    report.error(
        "bad lambda on the last rank",
        got,
        Error::InvalidLambda { lambda: -1.0 },
        untouched,
    );
    // The last rank believes tensor 1 is longer.
    let mut other_lens = lens;
    other_lens[1] += 1;
    let other = Layout::<f32>::new(other_lens);
    let its_layout = if rank == last && size > 1 {
        &other
    } else {
        &layout
    };
    let (got, untouched) = fused(L1::new(0.01), its_layout, &ps, &mine);
    if size > 1 {
        report.error(
            "another layout on the last rank",
            got,
            Error::LayoutMismatch { part: last },
            untouched,
        );
    } else {
        report.value(
            "another layout on the last rank",
            got,
            l1.penalty_model(&model),
        );
    }
    // Rank 0 also holds the last rank's share of tensor 5 (overlap, or a
    // duplicate on one rank); the last rank drops its piece of tensor 0 (gap).
    let mut over = mine.clone();
    if rank == 0 {
        over.push(
            assign(&layout, last, size)
                .into_iter()
                .find(|(t, _)| *t == 5)
                .unwrap(),
        );
    }
    let overlap = layout.split(5, size).unwrap()[(last + 5) % size].start;
    let (got, untouched) = fused(L1::new(0.01), &layout, &pieces(&model, &over), &over);
    report.error(
        "overlap",
        got,
        Error::ShardOverlap {
            tensor: 5,
            offset: overlap,
        },
        untouched,
    );
    let gap: Vec<_> = mine
        .iter()
        .filter(|(t, _)| rank != last || *t != 0)
        .cloned()
        .collect();
    let missing = layout.split(0, size).unwrap()[last % size].start;
    let (got, untouched) = fused(L1::new(0.01), &layout, &pieces(&model, &gap), &gap);
    report.error(
        "gap",
        got,
        Error::ShardGap {
            tensor: 0,
            offset: missing,
        },
        untouched,
    );
    // A misaligned piece on the last rank (only the first 3 elements of
    // tensor 1).
    let mut shifted = mine.clone();
    if rank == last {
        shifted = vec![(1, 0..3)];
    }
    let (got, untouched) = fused(L1::new(0.01), &layout, &pieces(&model, &shifted), &shifted);
    let want = Error::ShardMisaligned {
        tensor: 1,
        start: 0,
        end: 3,
        unit: UNIT,
    };
    report.error("misaligned piece on the last rank", got, want, untouched);
    // Gradients that do not pair up on the last rank.
    let mut local = locals(&grads, &mine);
    if rank == last {
        local.push(vec![0.0; 5]);
    }
    let before = local.clone();
    let got = sharded.penalty_and_gradient(&l1, &layout, &ps, &mut local);
    let untouched = local.iter().zip(&before).all(|(a, b)| same(a, b));
    let n = assign(&layout, last, size).len();
    report.error(
        "unpaired gradients on the last rank",
        got,
        Error::TensorCountMismatch {
            params: n,
            grads: n + 1,
        },
        untouched,
    );
    // A bad clipping threshold on rank 0 only: nobody clips.
    let threshold = if rank == 0 { f64::NAN } else { 1.0 };
    let mut local = locals(&grads, &mine);
    let mut gp = pieces_mut(&mut local, &mine);
    let got = sharded.clip_grad_norm(ClipGradNorm::new(threshold), &layout, &mut gp);
    let untouched = local
        .iter()
        .zip(&locals(&grads, &mine))
        .all(|(a, b)| same(a, b));
    if matches!(got, Err(Error::InvalidMaxNorm { max_norm }) if max_norm.is_nan()) && untouched {
        report
            .0
            .push("bad max_norm on rank 0 InvalidMaxNorm".into());
    } else {
        report.0.push(format!("FAIL bad max_norm: {got:?}"));
    }
    // Still in step after all those errors.
    report.value(
        "l1 after the errors",
        sharded.penalty(&l1, &layout, &ps),
        l1.penalty_model(&model),
    );
    report.0
}
