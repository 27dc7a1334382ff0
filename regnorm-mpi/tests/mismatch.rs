//! Ranks that make different calls: every rank gets the same error, in
//! bounded time, and no gradient is written. This binary starts itself on 2
//! ranks under `mpirun` (the `rank_program` test, which does nothing
//! otherwise), with a time limit, so a hang fails instead of stalling.

mod run;

use std::time::Duration;

use regnorm::{ClipGradNorm, Error, L1, L2};
use regnorm_mpi::{Layout, Piece, Sharded};

const RANK_PROGRAM: &str = "REGNORM_MPI_MISMATCH";

/// A gradient container whose `as_mut` panics.
struct Refuses;
impl AsMut<[f32]> for Refuses {
    fn as_mut(&mut self) -> &mut [f32] {
        panic!("as_mut refuses")
    }
}

#[test]
fn rank_program() {
    if std::env::var_os(RANK_PROGRAM).is_none() {
        return;
    }
    let universe = mpi::initialize().expect("MPI initialized once");
    let world = universe.world();
    let sharded = Sharded::new(&world);
    let (rank, size) = (sharded.rank(), sharded.size());
    assert_eq!(size, 2);
    let layout = Layout::<f32>::new([1 << 16]);
    let mine = layout.split(0, 2).unwrap()[rank].clone();
    let w: Vec<f32> = (0..mine.len())
        .map(|i| (i % 97) as f32 * 0.01 - 0.3)
        .collect();
    let pieces = [Piece::new(0, mine.start, &w[..])];
    let report = |what: &str, r: Result<f64, Error>| {
        println!("RANK{rank} {what}: {r:?}");
    };

    // L1 on rank 0, L2 on rank 1.
    let r = if rank == 0 {
        sharded.penalty(L1::new(0.1), &layout, &pieces)
    } else {
        sharded.penalty(L2::new(0.1), &layout, &pieces)
    };
    report("l1 vs l2", r);

    // Different strengths.
    report(
        "strengths",
        sharded.penalty(L2::new(0.1 * (rank + 1) as f64), &layout, &pieces),
    );

    // penalty on rank 0, penalty_and_gradient on rank 1: no hang, no
    // gradient written.
    let mut g = vec![vec![0.0f32; w.len()]];
    let r = if rank == 0 {
        sharded.penalty(L2::new(0.1), &layout, &pieces)
    } else {
        sharded.penalty_and_gradient(L2::new(0.1), &layout, &pieces, &mut g)
    };
    report("penalty vs gradient", r);
    println!(
        "RANK{rank} gradient untouched: {}",
        g[0].iter().all(|&v| v == 0.0)
    );

    // clip on rank 0, penalty on rank 1.
    let mut gw = w.clone();
    let r = if rank == 0 {
        sharded.clip_grad_norm(
            ClipGradNorm::new(1.0),
            &layout,
            &mut [Piece::new(0, mine.start, &mut gw[..])],
        )
    } else {
        sharded.penalty(L2::new(0.1), &layout, &pieces)
    };
    report("clip vs penalty", r);
    println!("RANK{rank} clipped gradient untouched: {}", gw == w);

    // A panicking gradient container on rank 1: every rank gets an error.
    let r = if rank == 1 {
        sharded.penalty_and_gradient(L1::new(0.1), &layout, &pieces, [Refuses])
    } else {
        sharded.penalty_and_gradient(L1::new(0.1), &layout, &pieces, &mut g)
    };
    report("panicking container", r);
    println!(
        "RANK{rank} gradient untouched: {}",
        g[0].iter().all(|&v| v == 0.0)
    );

    // A Sharded made later on one rank only: numbering differs.
    let late = Sharded::new(&world);
    let r = if rank == 0 {
        late.penalty(L1::new(0.1), &layout, &pieces)
    } else {
        sharded.penalty(L1::new(0.1), &layout, &pieces)
    };
    report("sequence", r);

    // After all that, matching calls agree again (fresh Sharded values,
    // made at the same point on both ranks).
    let again = Sharded::new(&world);
    report("matching", again.penalty(L1::new(0.1), &layout, &pieces));
    // A long partial (many pieces, past the first round) on rank 0 only.
    let big = Layout::<f32>::new(vec![4; 2000]);
    let zeros = [0.0f32; 4];
    let many: Vec<Piece<&[f32]>> = if rank == 0 {
        (0..2000).map(|t| Piece::new(t, 0, &zeros[..])).collect()
    } else {
        Vec::new()
    };
    report("long partial", again.penalty(L1::new(0.1), &big, &many));
}

#[test]
fn mismatched_calls_fail_alike_on_every_rank() {
    if std::env::var_os(RANK_PROGRAM).is_some() {
        return;
    }
    let Some(mut cmd) = run::mpirun(RANK_PROGRAM) else {
        return;
    };
    cmd.env(RANK_PROGRAM, "1")
        .args(["-n", "2"])
        .arg(std::env::current_exe().unwrap())
        .args(["rank_program", "--exact", "--nocapture", "--test-threads=1"]);
    let (ok, out, err) = run::run_with_limit(cmd, Duration::from_secs(120));
    assert!(ok, "{out}\n{err}");
    let lines = |r: usize| -> Vec<String> {
        let prefix = format!("RANK{r} ");
        out.lines()
            .filter_map(|l| l.find(&prefix).map(|i| l[i + prefix.len()..].to_owned()))
            .collect()
    };
    let (r0, r1) = (lines(0), lines(1));
    assert_eq!(r0, r1, "ranks disagree:\n{out}");
    let line = |what: &str| {
        r0.iter()
            .find(|l| l.starts_with(what))
            .unwrap_or_else(|| panic!("no line {what}:\n{out}"))
            .clone()
    };
    for what in [
        "l1 vs l2",
        "strengths",
        "penalty vs gradient",
        "clip vs penalty",
        "sequence",
    ] {
        assert!(line(what).contains("CallMismatch"), "{}", line(what));
    }
    assert!(line("panicking container").contains("RankPanicked { part: 1 }"));
    assert!(line("matching").contains("Ok("));
    assert!(line("long partial").contains("Ok("));
    assert!(
        r0.iter()
            .filter(|l| l.contains("untouched"))
            .all(|l| l.ends_with("true")),
        "{out}"
    );
}
