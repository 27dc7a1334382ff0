//! Starting this test binary again under `mpirun`, with a time limit: a
//! hang fails the test (with what the ranks printed) instead of stalling
//! the run.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `mpirun` with the flags this machine needs, or `None` (saying so) if it
/// is not installed.
pub fn mpirun(env_key: &str) -> Option<Command> {
    let found = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "SKIPPED: mpirun not found (install Open MPI: apt-get install openmpi-bin libopenmpi-dev)"
        );
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
    cmd.args(["--oversubscribe", "-x", env_key]);
    Some(cmd)
}

/// Runs `cmd` and returns (success, stdout, stderr); kills it and panics
/// if it takes longer than `limit`.
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> (bool, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    match status {
        Some(s) => (s.success(), out, err),
        None => panic!("hung: killed after {limit:?}\n{out}\n{err}"),
    }
}
