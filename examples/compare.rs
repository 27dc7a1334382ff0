//! Compare regnorm's kernels on this machine: GB/s of every tier, the
//! dispatched call and the parallel path, against the naive iterator, for a
//! few sizes; check that every regnorm path returns the same bits; show the
//! accuracy against an exact sum.
//!
//! ```sh
//! cargo run --release --example compare              # about half a minute
//! cargo run --release --example compare -- --help
//! ```

use std::hint::black_box;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use regnorm::{Element, Exec, Tier};

const HELP: &str = "\
compare: GB/s of regnorm's kernels on this machine, and a bit-for-bit check

USAGE:
    cargo run --release --example compare -- [OPTIONS]

OPTIONS:
    --sizes N,N,...   element counts to run (default 1000,16384,262144,4194304,67108864;
                      suffixes k/K = 2^10, m/M = 2^20 are accepted, e.g. 16k,4M)
    --threads N       threads of the rayon pool the parallel path runs in (default: all cores)
    --types T,T       element types: f32, f64 (default: f32,f64)
    --ops O,O         reductions: sum_abs, sum_sq (default: both)
    --full            more samples per figure (slower, steadier)
    -h, --help        print this help
";

struct Args {
    sizes: Vec<usize>,
    threads: usize,
    types: Vec<String>,
    ops: Vec<String>,
    samples: usize,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let (digits, scale) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    digits
        .replace('_', "")
        .parse::<usize>()
        .map(|n| n * scale)
        .map_err(|_| format!("not a size: {s:?}"))
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        sizes: vec![1_000, 16 << 10, 256 << 10, 4 << 20, 64 << 20],
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        types: vec!["f32".into(), "f64".into()],
        ops: vec!["sum_abs".into(), "sum_sq".into()],
        samples: 7,
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
            "--threads" => {
                args.threads = value()?
                    .parse()
                    .map_err(|_| "--threads needs a number".to_string())?
            }
            "--types" => args.types = value()?.split(',').map(str::to_string).collect(),
            "--ops" => args.ops = value()?.split(',').map(str::to_string).collect(),
            "--full" => args.samples = 21,
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    if args.threads == 0 || args.sizes.is_empty() {
        return Err("--threads and --sizes must not be zero or empty".into());
    }
    for t in &args.types {
        if t != "f32" && t != "f64" {
            return Err(format!("unknown type {t:?}: f32 or f64"));
        }
    }
    for o in &args.ops {
        if o != "sum_abs" && o != "sum_sq" {
            return Err(format!("unknown op {o:?}: sum_abs or sum_sq"));
        }
    }
    Ok(Some(args))
}

/// The median GB/s of `f`, which reads `bytes`, over `samples` samples of at
/// least 10 ms each.
fn measure(bytes: usize, samples: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    f();
    let once = start.elapsed().max(Duration::from_nanos(1));
    let iters = (Duration::from_millis(10).as_secs_f64() / once.as_secs_f64())
        .ceil()
        .max(1.0) as u32;
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

/// Element types with a naive reference and test data.
trait Float: Element + Copy + Into<f64> {
    const NAME: &'static str;
    fn from_units(k: i32) -> Self;
    fn naive(op: &str, x: &[Self]) -> f64;
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    fn from_units(k: i32) -> f32 {
        k as f32 / (1 << 23) as f32
    }
    fn naive(op: &str, x: &[f32]) -> f64 {
        let s: f32 = if op == "sum_abs" {
            x.iter().map(|v| v.abs()).sum()
        } else {
            x.iter().map(|v| v * v).sum()
        };
        f64::from(s)
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    fn from_units(k: i32) -> f64 {
        f64::from(k) / f64::from(1 << 23)
    }
    fn naive(op: &str, x: &[f64]) -> f64 {
        if op == "sum_abs" {
            x.iter().map(|v| v.abs()).sum()
        } else {
            x.iter().map(|v| v * v).sum()
        }
    }
}

/// Uniform values in [-1, 1), multiples of 2^-23 (so the exact sums can be
/// computed in integers).
fn data<T: Float>(n: usize) -> (Vec<T>, Vec<i32>) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let units: Vec<i32> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as i32) - (1 << 23)
        })
        .collect();
    (units.iter().map(|&k| T::from_units(k)).collect(), units)
}

fn exact(op: &str, units: &[i32]) -> f64 {
    let total: i128 = if op == "sum_abs" {
        units.iter().map(|&k| i128::from(k).abs()).sum()
    } else {
        units.iter().map(|&k| i128::from(k) * i128::from(k)).sum()
    };
    let scale = if op == "sum_abs" {
        2f64.powi(23)
    } else {
        2f64.powi(46)
    };
    total as f64 / scale
}

fn call<T: Element>(exec: Exec, op: &str, x: &[T]) -> f64 {
    if op == "sum_abs" {
        exec.sum_abs(x)
    } else {
        exec.sum_sq(x)
    }
}

/// Runs one table (one type, one op); returns whether all paths agreed.
fn table<T: Float>(args: &Args, op: &str) -> bool {
    let max = *args.sizes.iter().max().unwrap();
    let (buffer, units) = data::<T>(max);
    let mut names: Vec<String> = vec!["naive iter().sum()".into()];
    names.extend(Tier::available().iter().map(|t| format!("tier {t}")));
    names.extend([
        "dispatched".into(),
        "parallel".into(),
        format!("parallel, from a worker ({} threads)", args.threads),
    ]);
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut agree = true;
    for (done, &n) in args.sizes.iter().enumerate() {
        eprint!(
            "\r  {op} {}: size {}/{} ({n} elements)   ",
            T::NAME,
            done + 1,
            args.sizes.len()
        );
        let x = &buffer[..n];
        let bytes = size_of_val(x);
        let reference = call(Exec::sequential().with_tier(Tier::Scalar).unwrap(), op, x);
        let mut check = |name: &str, got: f64| {
            if got.to_bits() != reference.to_bits() {
                eprintln!(
                    "\nMISMATCH: {name} gave {got:e}, scalar reference {reference:e} ({n} elements)"
                );
                agree = false;
            }
        };
        let mut col = Vec::new();
        col.push(measure(bytes, args.samples, || {
            black_box(T::naive(op, black_box(x)));
        }));
        for tier in Tier::available() {
            let exec = Exec::sequential().with_tier(tier).unwrap();
            check(tier.name(), call(exec, op, x));
            col.push(measure(bytes, args.samples, || {
                black_box(call(exec, op, black_box(x)));
            }));
        }
        check("dispatched", call(Exec::sequential(), op, x));
        col.push(measure(bytes, args.samples, || {
            black_box(call(Exec::sequential(), op, black_box(x)));
        }));
        check("parallel", call(Exec::new(), op, x));
        col.push(measure(bytes, args.samples, || {
            black_box(call(Exec::new(), op, black_box(x)));
        }));
        check(
            "parallel from a worker",
            on_worker(|| call(Exec::new(), op, x)),
        );
        col.push(on_worker(|| {
            measure(bytes, args.samples, || {
                black_box(call(Exec::new(), op, black_box(x)));
            })
        }));
        for (row, v) in rows.iter_mut().zip(col) {
            row.push(v);
        }
    }
    if std::io::stderr().is_terminal() {
        eprint!("\r{:60}\r", "");
    }
    println!(
        "\n{op} over {}: GB/s of input read (median of {} samples)",
        T::NAME,
        args.samples
    );
    print!("  {:<36}", "elements");
    for n in &args.sizes {
        print!("{n:>12}");
    }
    println!();
    for (name, row) in names.iter().zip(&rows) {
        print!("  {name:<36}");
        for v in row {
            print!("{v:>12.1}");
        }
        println!();
    }
    let exact = exact(op, &units);
    let err = |v: f64| (v - exact).abs() / exact;
    println!(
        "  relative error vs the exact sum at {max} elements: regnorm {:.1e}, naive {:.1e}",
        err(call(Exec::new(), op, &buffer)),
        err(T::naive(op, &buffer)),
    );
    println!(
        "  bit for bit: {}",
        if agree {
            "every tier, dispatched and parallel result equals the scalar reference"
        } else {
            "MISMATCH (see above)"
        }
    );
    agree
}

/// Runs `f` on a worker thread of the global rayon pool (the one the
/// "parallel" rows use too, so that no second pool competes for the cores).
fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::join(f, || ()).0
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
    println!(
        "regnorm compare: {} logical CPUs, tiers available: {} (dispatch uses {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        Tier::available()
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", "),
        Tier::best()
    );
    let mut agree = true;
    for ty in &args.types {
        for op in &args.ops {
            agree &= match ty.as_str() {
                "f32" => table::<f32>(&args, op),
                _ => table::<f64>(&args, op),
            };
        }
    }
    if agree {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
