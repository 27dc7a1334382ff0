//! Run without `mpirun`, a test process is a single MPI rank (a singleton):
//! every scenario of `common` on one rank. MPI is initialized once per
//! process, so this file holds one test.

mod common;

#[test]
fn every_scenario_on_a_single_rank() {
    let universe = mpi::initialize().expect("MPI initializes as a singleton");
    let world = universe.world();
    let sharded = regnorm_mpi::Sharded::new(&world);
    assert_eq!(sharded.size(), 1);
    let lines = common::run_all(&sharded);
    let failures: Vec<&String> = lines.iter().filter(|l| l.starts_with("FAIL")).collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(lines.len() == 19, "{lines:#?}");
}
