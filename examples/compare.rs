//! Compare regnorm with the libraries a user would otherwise call, on this
//! machine, in one run: GB/s of every kernel tier, the dispatched call and
//! the parallel path against naive iterators, ndarray and nalgebra (and faer
//! and OpenBLAS with `--features regnorm-support/faer,regnorm-support/openblas`),
//! as fractions of this machine's
//! measured read bandwidth and of the best peer; a bit-for-bit check of every
//! regnorm path; each kernel's error against the exact sum; and an SVG chart.
//!
//! ```sh
//! cargo run --release --example compare              # about half a minute
//! cargo run --release --example compare -- --help
//! ```

use regnorm_support::chart;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use regnorm::{Element, Exec, Tier};
use regnorm_support::ceiling::{
    CeilingFloat, Kernel, Op, SpinPair, ceiling_kernels, fastest_kernels,
};
use regnorm_support::peers::PeerFloat;

const HELP: &str = "\
compare: regnorm against its peers on this machine, with a bit-for-bit check

USAGE:
    cargo run --release --example compare -- [OPTIONS]
    cargo run --release --features regnorm-support/faer --example compare       # adds faer
    cargo run --release --features regnorm-support/openblas --example compare   # adds OpenBLAS

OPTIONS:
    --sizes N,N,...   element counts (default 1000,16k,256k,4M,64M; k = 2^10, M = 2^20)
    --threads N       threads of the rayon pool (default: all cores)
    --types T,T       element types: f32, f64, bf16, f16 (default: f32,f64; the half
                      types' ceilings are the f32 ones over the same bytes)
    --ops O,O         reductions: sum_abs, sum_sq (default: both)
    --out PATH        where to write the SVG chart (default: target/compare.svg);
                      a directory gets PATH/compare.svg
    --full            more samples per figure and the scalar tier too (slower, steadier)
    -h, --help        print this help

Every figure is the median of several timed samples, in GB/s (10^9 bytes of
input per second), with inputs behind black_box and buffers allocated once.
\"ceiling, one thread\" is the fastest of a family of speed-of-light kernels
with no order and no accuracy care (AVX2+FMA and AVX-512, 4, 8, 16 or 32
independent accumulators, one or two streams, with or without prefetch), measured on the same
input before and after regnorm's rows; \"ceiling, two threads\" splits each
over the caller and a second thread that spins between calls (as OpenBLAS's
threads do). regnorm's rows are reported as fractions of them.
";

struct Args {
    sizes: Vec<usize>,
    threads: usize,
    types: Vec<String>,
    ops: Vec<String>,
    out: PathBuf,
    samples: usize,
    full: bool,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let (digits, scale) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    match digits.replace('_', "").parse::<usize>() {
        Ok(n) if n > 0 => Ok(n * scale),
        _ => Err(format!("not a size: {s:?}")),
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        sizes: vec![1_000, 16 << 10, 256 << 10, 4 << 20, 64 << 20],
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        types: vec!["f32".into(), "f64".into()],
        ops: vec!["sum_abs".into(), "sum_sq".into()],
        out: PathBuf::from("target/compare.svg"),
        samples: 5,
        full: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--sizes" => {
                args.sizes = value()?
                    .split(',')
                    .map(parse_size)
                    .collect::<Result<_, _>>()?
            }
            "--threads" => match value()?.parse() {
                Ok(n) if n > 0 => args.threads = n,
                _ => return Err("--threads needs a positive number".into()),
            },
            "--types" => args.types = value()?.split(',').map(str::to_string).collect(),
            "--ops" => args.ops = value()?.split(',').map(str::to_string).collect(),
            "--out" => args.out = PathBuf::from(value()?),
            "--full" => {
                args.samples = 15;
                args.full = true;
            }
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    if let Some(t) = args
        .types
        .iter()
        .find(|t| !["f32", "f64", "bf16", "f16"].contains(&t.as_str()))
    {
        return Err(format!("unknown type {t:?}: f32, f64, bf16 or f16"));
    }
    if let Some(o) = args
        .ops
        .iter()
        .find(|o| !["sum_abs", "sum_sq"].contains(&o.as_str()))
    {
        return Err(format!("unknown op {o:?}: sum_abs or sum_sq"));
    }
    args.sizes.sort_unstable();
    args.sizes.dedup();
    Ok(Some(args))
}

/// The median GB/s of `f`, which reads `bytes`, over `samples` samples of at
/// least 5 ms each.
fn measure(bytes: usize, samples: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    f();
    let once = start.elapsed().max(Duration::from_nanos(1));
    let iters = (0.005 / once.as_secs_f64()).ceil().max(1.0) as u32;
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_secs_f64() / f64::from(iters)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    bytes as f64 / times[times.len() / 2] / 1e9
}

/// Runs `f` on a worker thread of the global rayon pool.
fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::join(f, || ()).0
}

/// The one-thread (or, with `two`, the two-thread) ceiling over `x`: the
/// best GB/s of the kernels `only` or, if `None`, of every ceiling kernel
/// this CPU has (instruction set × accumulators × streams × prefetch, three
/// samples each, then the three fastest again with `samples`), and that
/// kernel.
fn own_ceiling<T: CeilingFloat>(
    bytes: usize,
    samples: usize,
    x: &[T],
    op: Op,
    two: bool,
    only: Option<Kernel>,
) -> (f64, Kernel) {
    let mut pair = two.then(SpinPair::<T>::new);
    let mut gbs = |k: Kernel, samples: usize| match &mut pair {
        Some(pair) => measure(bytes, samples, || {
            _ = black_box(pair.run(black_box(x), op, k))
        }),
        None => measure(bytes, samples, || {
            _ = black_box(T::reduce(black_box(x), op, k))
        }),
    };
    let kernels = only.map_or_else(ceiling_kernels, |k| vec![k]);
    // Three samples can rank kernels within a few percent of each other in
    // the wrong order (a call of 1,000 elements lasts about 50 ns), so the
    // three fastest are measured again with every sample.
    fastest_kernels(&kernels, 3, 1, |k| 1.0 / gbs(k, samples.min(3)))
        .into_iter()
        .map(|(t, k)| ((1.0 / t).max(gbs(k, samples)), k))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("at least one ceiling kernel")
}

/// Element types under comparison.
trait Float: Element + PeerFloat + Copy {
    const NAME: &'static str;
    /// The unit roundoff: the peers' accuracy is checked against `n·u`.
    const UNIT_ROUNDOFF: f64;
    fn from_f32(v: f32) -> Self;
    /// The value widened (or, for f64, rounded: its values are f32's here).
    fn to_f32(self) -> f32;
    /// GB/s of the one-thread (or two-thread) ceiling over `x`'s bytes, and
    /// its kernel ([`own_ceiling`]).
    fn ceiling(
        bytes: usize,
        samples: usize,
        x: &[Self],
        op: Op,
        two: bool,
        only: Option<Kernel>,
    ) -> (f64, Kernel);
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;
    fn from_f32(v: f32) -> f32 {
        v
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn ceiling(
        bytes: usize,
        samples: usize,
        x: &[f32],
        op: Op,
        two: bool,
        only: Option<Kernel>,
    ) -> (f64, Kernel) {
        own_ceiling(bytes, samples, x, op, two, only)
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;
    fn from_f32(v: f32) -> f64 {
        f64::from(v)
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
    fn ceiling(
        bytes: usize,
        samples: usize,
        x: &[f64],
        op: Op,
        two: bool,
        only: Option<Kernel>,
    ) -> (f64, Kernel) {
        own_ceiling(bytes, samples, x, op, two, only)
    }
}

/// The half types: their values are checked against the f32 bound of the
/// widened values (their peers accumulate in f32), and their ceiling is the
/// f32 ceiling over the same number of bytes.
macro_rules! half_float {
    ($t:ty, $name:literal) => {
        impl Float for $t {
            const NAME: &'static str = $name;
            const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;
            fn from_f32(v: f32) -> $t {
                <$t>::from_f32(v)
            }
            fn to_f32(self) -> f32 {
                <$t>::to_f32(self)
            }
            fn ceiling(
                bytes: usize,
                samples: usize,
                x: &[$t],
                op: Op,
                two: bool,
                only: Option<Kernel>,
            ) -> (f64, Kernel) {
                let same_bytes: Vec<f32> = x[..x.len() / 2].iter().map(|v| v.to_f32()).collect();
                own_ceiling(bytes, samples, &same_bytes, op, two, only)
            }
        }
    };
}
half_float!(half::bf16, "bf16");
half_float!(half::f16, "f16");

/// Who a row measures, and on how many threads.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A speed-of-light kernel (no order, no accuracy care).
    Ceiling,
    Peer,
    Regnorm,
}

/// One line of a table: a kernel's GB/s at every size.
struct Row {
    name: String,
    kind: Kind,
    /// Whether it may use more than one thread.
    threaded: bool,
    gbs: Vec<f64>,
    /// Relative error against the exact sum at each size.
    errors: Vec<f64>,
}

/// One table: one element type, one reduction.
struct Table {
    title: String,
    sizes: Vec<usize>,
    bytes_per_element: usize,
    rows: Vec<Row>,
    agree: bool,
    peers_within_bound: bool,
}

fn call<T: Element>(exec: Exec, op: &str, x: &[T]) -> f64 {
    if op == "sum_abs" {
        exec.sum_abs(x)
    } else {
        exec.sum_sq(x)
    }
}

/// The exact Σ|x| or Σx² of the first `n` values, which are multiples of
/// 2^-23 (`regnorm_support::tensors`), computed in integers.
fn exact(op: &str, data: &[f32]) -> f64 {
    // Multiples of 2^-23, or of 2^-24 once rounded to f16 (its subnormals).
    let units = data
        .iter()
        .map(|&v| (f64::from(v) * f64::from(1 << 24)) as i128);
    if op == "sum_abs" {
        units.map(i128::abs).sum::<i128>() as f64 / 2f64.powi(24)
    } else {
        units.map(|k| k * k).sum::<i128>() as f64 / 2f64.powi(48)
    }
}

fn progress(msg: &str) {
    if std::io::stderr().is_terminal() {
        eprint!("\r{msg:<70}\r");
    }
}

fn table<T: Float>(args: &Args, op: &str) -> Table {
    let max = *args.sizes.last().unwrap();
    eprintln!("measuring {op} over {} ...", T::NAME);
    let data: Vec<T> = regnorm_support::tensors(&[max], 7)
        .remove(0)
        .into_iter()
        .map(T::from_f32)
        .collect();
    // The values as the element type holds them (the half types round).
    let source: Vec<f32> = data.iter().map(|&v| T::to_f32(v)).collect();

    let mut rows: Vec<Row> = Vec::new();
    let mut row = |name: &str, kind, threaded| {
        rows.push(Row {
            name: name.into(),
            kind,
            threaded,
            gbs: vec![],
            errors: vec![],
        });
        rows.len() - 1
    };
    let ceil_1 = row("ceiling, one thread", Kind::Ceiling, false);
    let ceil_2 = row("ceiling, two threads", Kind::Ceiling, true);
    let peers: Vec<_> = T::peers()
        .into_iter()
        .filter_map(|p| {
            let f = p.reduction(op == "sum_sq")?;
            let threaded = p.name.contains("threaded");
            Some((row(p.name, Kind::Peer, threaded), f, threaded))
        })
        .collect();
    let tiers: Vec<_> = Tier::available()
        .into_iter()
        .filter(|&t| args.full || t != Tier::Scalar)
        .map(|t| (row(&format!("regnorm tier {t}"), Kind::Regnorm, false), t))
        .collect();
    let dispatched = row("regnorm dispatched", Kind::Regnorm, false);
    let parallel = row("regnorm parallel", Kind::Regnorm, true);
    let worker = row("regnorm parallel, from a worker", Kind::Regnorm, true);

    let (mut agree, mut within) = (true, true);
    for (i, &n) in args.sizes.iter().enumerate() {
        progress(&format!(
            "  {op} {}: size {}/{} ({n} elements)",
            T::NAME,
            i + 1,
            args.sizes.len()
        ));
        let x = &data[..n];
        let bytes = size_of_val(x);
        let exact = exact(op, &source[..n]);
        let reference = call(Exec::sequential().with_tier(Tier::Scalar).unwrap(), op, x);
        let bound = n as f64 * T::UNIT_ROUNDOFF / (1.0 - (n as f64 * T::UNIT_ROUNDOFF).min(0.5));
        let s = args.samples;
        let mut record = |r: usize, gbs: f64, result: f64| {
            let err = (result - exact).abs() / exact;
            rows[r].gbs.push(gbs);
            rows[r].errors.push(err);
            match rows[r].kind {
                Kind::Regnorm if result.to_bits() != reference.to_bits() => {
                    eprintln!(
                        "\nMISMATCH: {} gave {result:e}, the scalar reference {reference:e}",
                        rows[r].name
                    );
                    agree = false;
                }
                Kind::Peer if err > bound => {
                    eprintln!(
                        "\n{} is off by {err:.1e} at {n} elements, beyond n·u = {bound:.1e}",
                        rows[r].name
                    );
                    within = false;
                }
                _ => {}
            }
        };
        let cop = if op == "sum_abs" { Op::Abs } else { Op::Sq };
        let (gbs_1, kernel_1) = T::ceiling(bytes, s, x, cop, false, None);
        let (gbs_2, kernel_2) = T::ceiling(bytes, s, x, cop, true, None);
        record(ceil_1, gbs_1, exact);
        record(ceil_2, gbs_2, exact);
        // The spinning worker is gone; let regnorm's helper find a free core.
        std::thread::sleep(Duration::from_millis(5));
        for &(r, f, threaded) in &peers {
            record(
                r,
                measure(bytes, s, || _ = black_box(f(black_box(x)))),
                f(x),
            );
            if threaded {
                // OpenBLAS's idle threads spin for a while before they sleep;
                // let them, or they would take a core from the next kernel.
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        for &(r, tier) in &tiers {
            let exec = Exec::sequential().with_tier(tier).unwrap();
            record(
                r,
                measure(bytes, s, || _ = black_box(call(exec, op, black_box(x)))),
                call(exec, op, x),
            );
        }
        // The ceilings are measured three times, with regnorm's rows in
        // between, and keep their best: a slow spell of this shared machine
        // during one measurement must not lower them.
        let mut best = [gbs_1, gbs_2];
        let mut again = || {
            std::thread::sleep(Duration::from_millis(5));
            for (i, k) in [kernel_1, kernel_2].into_iter().enumerate() {
                best[i] = best[i].max(T::ceiling(bytes, s, x, cop, i == 1, Some(k)).0);
            }
        };
        again();
        let exec = Exec::sequential();
        record(
            dispatched,
            measure(bytes, s, || _ = black_box(call(exec, op, black_box(x)))),
            call(exec, op, x),
        );
        let exec = Exec::new();
        record(
            parallel,
            measure(bytes, s, || _ = black_box(call(exec, op, black_box(x)))),
            call(exec, op, x),
        );
        let gbs = on_worker(|| measure(bytes, s, || _ = black_box(call(exec, op, black_box(x)))));
        record(worker, gbs, on_worker(|| call(exec, op, x)));
        again();
        for (r, best) in [(ceil_1, best[0]), (ceil_2, best[1])] {
            *rows[r].gbs.last_mut().expect("measured above") = best;
        }
    }
    progress("");
    Table {
        title: format!("{op} over {}", T::NAME),
        sizes: args.sizes.clone(),
        bytes_per_element: size_of::<T>(),
        rows,
        agree,
        peers_within_bound: within,
    }
}

/// Where the data of `bytes` lives between repeated calls on this machine.
fn residence(bytes: usize) -> &'static str {
    let cache = |level: &str| -> usize {
        let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok();
        dir.into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let lvl = std::fs::read_to_string(p.join("level")).ok()?;
                let ty = std::fs::read_to_string(p.join("type")).ok()?;
                let size = std::fs::read_to_string(p.join("size")).ok()?;
                let size = size.trim().trim_end_matches('K').parse::<usize>().ok()? * 1024;
                (lvl.trim() == level && ty.trim() != "Instruction").then_some(size)
            })
            .next()
            .unwrap_or(0)
    };
    if bytes <= cache("1") {
        "L1, hot"
    } else if bytes <= cache("2") {
        "L2, hot"
    } else if bytes <= cache("3") {
        "L3, hot"
    } else {
        "DRAM, cold"
    }
}

fn print_table(t: &Table) {
    println!("\n### {}: GB/s of input read (median)\n", t.title);
    let mut header = "| kernel |".to_string();
    let mut rule = "|---|".to_string();
    for &n in &t.sizes {
        let bytes = n * t.bytes_per_element;
        let _ = write!(header, " {n} ({}, {}) |", human(bytes), residence(bytes));
        rule.push_str("---:|");
    }
    header.push_str(&format!(" rel. error at {} |", t.sizes.last().unwrap()));
    rule.push_str("---:|");
    println!("{header}\n{rule}");
    for r in &t.rows {
        let mut line = format!("| {} |", r.name);
        for g in &r.gbs {
            let _ = write!(line, " {g:.1} |");
        }
        match r.kind {
            Kind::Ceiling => line.push_str(" |"),
            _ => {
                let _ = write!(line, " {:.1e} |", r.errors.last().unwrap());
            }
        }
        println!("{line}");
    }
    // The summary: regnorm against the machine and the best peer.
    let find = |name: &str| t.rows.iter().find(|r| r.name == name).unwrap();
    let (c1, c2) = (find("ceiling, one thread"), find("ceiling, two threads"));
    let (d, w) = (
        find("regnorm dispatched"),
        find("regnorm parallel, from a worker"),
    );
    let par = find("regnorm parallel");
    let sizes: Vec<String> = t.sizes.iter().map(|n| n.to_string()).collect();
    println!(
        "\n| against the machine and the peers | {} |",
        sizes.join(" | ")
    );
    println!("|---|{}", "---:|".repeat(t.sizes.len()));
    let line = |label: &str, f: &dyn Fn(usize) -> String| {
        println!(
            "| {label} | {} |",
            (0..t.sizes.len()).map(f).collect::<Vec<_>>().join(" | ")
        );
    };
    let best_peer = |i: usize, threaded: bool| {
        t.rows
            .iter()
            .filter(|r| r.kind == Kind::Peer && (threaded || !r.threaded))
            .max_by(|a, b| a.gbs[i].total_cmp(&b.gbs[i]))
    };
    line(
        "dispatched (one thread), % of the one-thread ceiling",
        &|i| format!("{:.0}%", 100.0 * d.gbs[i] / c1.gbs[i]),
    );
    // Below 256 KiB a call stays on one thread, so the one-thread ceiling
    // is the one to reach there; from 1 MiB the two-thread one.
    let fastest = |i: usize| c1.gbs[i].max(c2.gbs[i]);
    line("parallel, % of the faster ceiling", &|i| {
        format!("{:.0}%", 100.0 * par.gbs[i] / fastest(i))
    });
    line("parallel from a worker, % of the faster ceiling", &|i| {
        format!("{:.0}%", 100.0 * w.gbs[i] / fastest(i))
    });
    line("best one-thread peer", &|i| {
        best_peer(i, false).map_or("-".into(), |r| format!("{} {:.1}", r.name, r.gbs[i]))
    });
    line("dispatched ÷ best one-thread peer", &|i| {
        best_peer(i, false).map_or("-".into(), |r| format!("{:.2}×", d.gbs[i] / r.gbs[i]))
    });
    line("best peer, any threads", &|i| {
        best_peer(i, true).map_or("-".into(), |r| format!("{} {:.1}", r.name, r.gbs[i]))
    });
    line("parallel ÷ best peer", &|i| {
        best_peer(i, true).map_or("-".into(), |r| format!("{:.2}×", par.gbs[i] / r.gbs[i]))
    });
    line("parallel from a worker ÷ best peer", &|i| {
        best_peer(i, true).map_or("-".into(), |r| format!("{:.2}×", w.gbs[i] / r.gbs[i]))
    });
    println!(
        "\nbit for bit: {}",
        if t.agree {
            "every regnorm tier, dispatched and parallel result equals the scalar reference"
        } else {
            "MISMATCH (see above)"
        }
    );
    println!(
        "peers' accuracy: {}",
        if t.peers_within_bound {
            "every peer within the n·u worst-case bound of its precision"
        } else {
            "a peer is beyond its bound (see above)"
        }
    );
}

fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// The chart: one panel per table, GB/s against bytes (log axis), at most
/// eight lines: the two ceilings (grey, dashed, on top), regnorm's
/// one-thread and parallel calls (blues), and the four fastest peers (by
/// their mean GB/s), each in its own colour. The per-tier rows and the
/// calls from a pool worker stay in the tables.
fn chart(tables: &[Table]) -> Vec<chart::Panel> {
    tables
        .iter()
        .map(|t| {
            let mean = |r: &Row| r.gbs.iter().sum::<f64>() / r.gbs.len().max(1) as f64;
            // Each peer keeps its colour in every panel: its place in the table.
            let mut peers: Vec<(usize, &Row)> = t
                .rows
                .iter()
                .filter(|r| r.kind == Kind::Peer)
                .enumerate()
                .collect();
            peers.sort_by(|a, b| mean(b.1).total_cmp(&mean(a.1)));
            peers.truncate(4);
            peers.sort_by_key(|&(i, _)| i);
            let ours = ["regnorm dispatched", "regnorm parallel"];
            let ceilings = ["ceiling, one thread", "ceiling, two threads"];
            let mut lines: Vec<(chart::Look, &Row)> = Vec::new();
            for (i, r) in peers {
                lines.push((chart::Look::Other(i), r));
            }
            for r in &t.rows {
                if let Some(i) = ours.iter().position(|&n| n == r.name) {
                    lines.push((chart::Look::Ours(i), r));
                }
                if let Some(i) = ceilings.iter().position(|&n| n == r.name) {
                    lines.push((chart::Look::Reference(i), r));
                }
            }
            chart::Panel {
                title: format!("{}: GB/s against input size", t.title),
                x_label: "bytes of input (log scale)".into(),
                y_label: "GB/s".into(),
                log_x: true,
                legend: None,
                series: lines
                    .into_iter()
                    .map(|(look, r)| chart::Series {
                        name: r.name.clone(),
                        points: t
                            .sizes
                            .iter()
                            .zip(&r.gbs)
                            .map(|(&n, &g)| ((n * t.bytes_per_element) as f64, g))
                            .collect(),
                        look,
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Where the chart goes: `out` itself, or `out/compare.svg` when `out` is a
/// directory (or is written as one, with a trailing slash).
fn chart_path(out: &std::path::Path) -> PathBuf {
    if out.is_dir() || out.as_os_str().to_string_lossy().ends_with('/') {
        out.join("compare.svg")
    } else {
        out.to_path_buf()
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()
    {
        eprintln!("error: cannot size the rayon pool: {e}");
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    println!(
        "regnorm compare: {} logical CPUs, rayon pool of {} threads, tiers available: {} (dispatch uses {}){}{}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.threads,
        Tier::available()
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", "),
        Tier::best(),
        if regnorm_support::peers::FAER {
            ", faer linked"
        } else {
            ""
        },
        if regnorm_support::peers::OPENBLAS {
            ", OpenBLAS linked"
        } else {
            ""
        }
    );
    let mut tables = Vec::new();
    for ty in &args.types {
        for op in &args.ops {
            let t = match ty.as_str() {
                "f32" => table::<f32>(&args, op),
                "bf16" => table::<half::bf16>(&args, op),
                "f16" => table::<half::f16>(&args, op),
                _ => table::<f64>(&args, op),
            };
            print_table(&t);
            tables.push(t);
        }
    }
    let out = chart_path(&args.out);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    match chart::write_svg(&out, &chart(&tables)) {
        Ok(()) => println!("\nchart: {}", out.display()),
        Err(e) => {
            eprintln!("\nerror: could not write the chart: {e}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
    if tables.iter().all(|t| t.agree) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
