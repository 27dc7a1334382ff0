//! The scenarios of `common` on 1, 2, 3 and 4 ranks: this test binary
//! starts itself under `mpirun` (the `rank_program` test, which does
//! nothing otherwise) and checks that every rank of every run printed the
//! same lines, with no failure, and that the values are the same for every
//! number of ranks. Skipped, saying so, where `mpirun` is not installed;
//! a run that takes over 5 minutes (a hang) fails.

mod common;
mod run;

use std::time::Duration;

const RANK_PROGRAM: &str = "REGNORM_MPI_RANK_PROGRAM";

/// Run by `mpirun` only: one MPI rank, printing its lines with a prefix.
#[test]
fn rank_program() {
    if std::env::var_os(RANK_PROGRAM).is_none() {
        return;
    }
    let universe = mpi::initialize().expect("MPI initialized once");
    let world = universe.world();
    let sharded = regnorm_mpi::Sharded::new(&world);
    for line in common::run_all(&sharded) {
        println!("RANK{} {line}", sharded.rank());
    }
}

#[test]
fn the_same_bits_on_1_to_4_ranks() {
    if std::env::var_os(RANK_PROGRAM).is_some() {
        return;
    }
    if run::mpirun(RANK_PROGRAM).is_none() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut reference: Option<Vec<String>> = None;
    for n in 1..=4 {
        let mut cmd = run::mpirun(RANK_PROGRAM).unwrap();
        cmd.env(RANK_PROGRAM, "1")
            .args(["-n", &n.to_string()])
            .arg(&exe)
            .args(["rank_program", "--exact", "--nocapture", "--test-threads=1"]);
        let (ok, stdout, stderr) = run::run_with_limit(cmd, Duration::from_secs(300));
        assert!(ok, "{n} ranks:\n{stdout}\n{stderr}");
        let lines: Vec<Vec<String>> = (0..n)
            .map(|r| {
                let prefix = format!("RANK{r} ");
                stdout
                    .lines()
                    // libtest's "test rank_program ... " may start the line.
                    .filter_map(|l| l.find(&prefix).map(|i| l[i + prefix.len()..].to_owned()))
                    .collect()
            })
            .collect();
        assert!(lines[0].len() == 19, "{n} ranks: {stdout}");
        for (r, l) in lines.iter().enumerate() {
            assert!(
                !l.iter().any(|l| l.starts_with("FAIL")),
                "{n} ranks, rank {r}: {l:#?}"
            );
            assert_eq!(l, &lines[0], "{n} ranks: rank {r} differs from rank 0");
        }
        // Values (not errors, which name the rank at fault, nor the layout
        // that only one rank cannot disagree about) match across runs.
        let values: Vec<String> = lines[0]
            .iter()
            .filter(|l| l.contains(" 0x") && !l.starts_with("another layout"))
            .cloned()
            .collect();
        match &reference {
            None => reference = Some(values),
            Some(v) => assert_eq!(&values, v, "{n} ranks differ from 1 rank"),
        }
    }
}
