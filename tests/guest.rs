//! regnorm as a guest in someone else's process: it never creates rayon's
//! global pool, starts no thread the user did not allow, follows the CPU
//! set at the time of each call, and a forked child neither hangs nor
//! touches its parent's threads.
//!
//! Each case runs in a fresh process (this test binary started again with
//! `REGNORM_GUEST_CASE` set), so that process-wide state (rayon's global
//! pool, the environment, helper threads, forks) starts clean.
#![cfg(all(target_os = "linux", feature = "rayon"))]

use std::process::Command;

use regnorm::Regularizer;
use std::time::{Duration, Instant};

const CASE: &str = "REGNORM_GUEST_CASE";

/// Runs `case` in a fresh process with `env` set; fails with its output if
/// it fails or takes more than a minute.
fn run_case(case: &str, env: &[(&str, &str)]) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CASE, case)
        .env_remove("REGNORM_NUM_THREADS")
        .env_remove("RAYON_NUM_THREADS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                status.success() && stdout.contains(&format!("case {case} ok")),
                "case {case} failed ({status}):\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("case {case} hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The threads of this process: (name, CPUs allowed) each.
fn threads() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let status = std::fs::read_to_string(entry.unwrap().path().join("status"));
        let Ok(status) = status else { continue };
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        out.push((field("Name:"), field("Cpus_allowed_list:")));
    }
    out
}

fn helpers() -> Vec<String> {
    threads()
        .into_iter()
        .filter(|(name, _)| name.starts_with("regnorm-helper"))
        .map(|(_, cpus)| cpus)
        .collect()
}

fn big() -> Vec<f32> {
    (0..1 << 22).map(|i| (i % 1000) as f32 * 1e-3).collect()
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Pins the calling thread to `cpus`.
fn pin(cpus: &[usize]) {
    // SAFETY: a zeroed cpu_set_t is empty and valid; it is passed with its
    // size; pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        assert_eq!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
}

#[test]
fn rayon_global_pool_is_left_alone() {
    run_case("global_pool", &[]);
}

#[test]
fn regnorm_num_threads_1_starts_no_thread() {
    run_case("env_one", &[("REGNORM_NUM_THREADS", "1")]);
}

#[test]
fn set_num_threads_limits_and_disables_helpers() {
    run_case("set_threads", &[]);
}

#[test]
fn the_default_follows_the_cpu_set_at_the_call() {
    run_case("cpu_set", &[]);
}

#[test]
fn a_forked_child_starts_fresh_and_leaves_the_parent_alone() {
    run_case("fork", &[]);
}

#[test]
fn forks_during_first_use_never_hang() {
    run_case("fork_race", &[]);
}

/// The child side of every case.
#[test]
fn child() {
    let Ok(case) = std::env::var(CASE) else {
        return;
    };
    let x = big();
    let want = regnorm::Exec::sequential().sum_abs(&x);
    match case.as_str() {
        "global_pool" => {
            assert_eq!(regnorm::sum_abs(&x), want);
            let l1 = regnorm::L1::new(1.0).unwrap();
            assert_eq!(l1.penalty_model([&x, &x]), 2.0 * want);
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build_global()
                .expect("regnorm created rayon's global pool");
        }
        "env_one" => {
            assert_eq!(regnorm::num_threads(), 1);
            for _ in 0..20 {
                assert_eq!(regnorm::sum_abs(&x), want);
            }
            assert_eq!(helpers().len(), 0, "{:?}", threads());
        }
        "set_threads" => {
            regnorm::set_num_threads(1);
            for _ in 0..20 {
                assert_eq!(regnorm::sum_abs(&x), want);
            }
            assert_eq!(helpers().len(), 0, "{:?}", threads());
            regnorm::set_num_threads(2);
            assert_eq!(regnorm::num_threads(), 2);
            // Concurrent callers too: at most one helper for two threads.
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        for _ in 0..20 {
                            assert_eq!(regnorm::sum_abs(&x), want);
                        }
                    });
                }
            });
            assert!(helpers().len() <= 1, "{:?}", threads());
            regnorm::set_num_threads(0);
            assert_eq!(regnorm::num_threads(), cpus().min(64));
        }
        "cpu_set" => {
            assert_eq!(regnorm::num_threads(), cpus().min(64));
            if cpus() >= 2 {
                pin(&[0]);
                assert_eq!(regnorm::num_threads(), 1);
                for _ in 0..20 {
                    assert_eq!(regnorm::sum_abs(&x), want);
                }
                assert_eq!(helpers().len(), 0, "one CPU: no helper");
                pin(&[0, 1]);
                assert_eq!(regnorm::num_threads(), 2);
            }
        }
        "fork" => {
            for _ in 0..20 {
                assert_eq!(regnorm::sum_abs(&x), want);
            }
            for round in 0..4 {
                // Let the helpers settle (a helper moved off its caller's
                // CPU widens back when it next runs), then fork.
                std::thread::sleep(Duration::from_millis(50));
                let before = helpers();
                // SAFETY: fork itself has no preconditions. What the child
                // may then do is the question: POSIX allows only
                // async-signal-safe calls after forking a multi-threaded
                // process, and the child allocates and starts threads. That
                // is exactly the use regnorm must survive; glibc (this
                // test's target) resets its allocator's locks in the child,
                // and the child never unwinds: it _exits.
                let pid = unsafe { libc::fork() };
                assert!(pid >= 0);
                if pid == 0 {
                    // The child: its own CPU, its own helpers.
                    if cpus() >= 2 {
                        pin(&[round % 2]);
                        regnorm::set_num_threads(2);
                    }
                    let ok = (0..20).all(|_| regnorm::sum_abs(&x) == want);
                    // SAFETY: ends the child without running the parent's
                    // atexit handlers or destructors.
                    unsafe { libc::_exit(if ok { 0 } else { 1 }) };
                }
                wait_for(pid);
                assert_eq!(helpers(), before, "a child changed the parent's helpers");
                assert_eq!(regnorm::sum_abs(&x), want);
            }
        }
        "fork_race" => {
            // Forks while another thread makes the process's first parallel
            // calls: every child computes and exits.
            let stop = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|s| {
                s.spawn(|| {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        assert_eq!(regnorm::sum_abs(&x), want);
                    }
                });
                for _ in 0..20 {
                    // SAFETY: as for the fork case above.
                    let pid = unsafe { libc::fork() };
                    assert!(pid >= 0);
                    if pid == 0 {
                        let ok = regnorm::sum_abs(&x) == want;
                        // SAFETY: as above.
                        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
                    }
                    wait_for(pid);
                }
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            });
        }
        other => panic!("no case {other}"),
    }
    println!("case {case} ok");
}

/// Waits up to 30 s for child `pid` to exit with status 0.
fn wait_for(pid: libc::pid_t) {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: a plain waitpid on our own child.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if got == pid {
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "child {pid} failed: status {status}"
            );
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "child {pid} hung"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
