//! The scenarios of `common` on 1, 2, 3 and 4 ranks: this test binary
//! starts itself under `mpirun` (the `rank_program` test, which does
//! nothing otherwise) and checks that every rank of every run printed the
//! same lines, with no failure, and that the values are the same for every
//! number of ranks. Skipped, saying so, where `mpirun` is not installed.

mod common;

use std::process::Command;

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

fn mpirun() -> Option<Command> {
    let found = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        return None;
    }
    let mut cmd = Command::new("mpirun");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if root {
        cmd.arg("--allow-run-as-root");
    }
    cmd.args(["--oversubscribe", "-x", RANK_PROGRAM]);
    Some(cmd)
}

#[test]
fn the_same_bits_on_1_to_4_ranks() {
    if std::env::var_os(RANK_PROGRAM).is_some() {
        return;
    }
    let Some(_) = mpirun() else {
        eprintln!(
            "SKIPPED: mpirun not found (install Open MPI: apt-get install openmpi-bin libopenmpi-dev)"
        );
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let mut reference: Option<Vec<String>> = None;
    for n in 1..=4 {
        let out = mpirun()
            .unwrap()
            .env(RANK_PROGRAM, "1")
            .args(["-n", &n.to_string()])
            .arg(&exe)
            .args(["rank_program", "--exact", "--nocapture", "--test-threads=1"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{n} ranks: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
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
