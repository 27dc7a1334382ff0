//! What L1 and L2 do to a model, on real data: Lasso, Ridge and ElasticNet
//! paths for linear regression on the diabetes data (442 patients, 10
//! features; Efron et al. 2004), solved by proximal gradient (FISTA with
//! adaptive restart) whose penalty, gradient and proximal steps are
//! regnorm's calls, in scikit-learn's conventions.
//!
//! ```sh
//! cargo run --release --example paths                       # 50 α per path, charts in target/paths/
//! cargo run --release --example paths -- --alphas 1,0.1 --csv fits.csv
//! ```

use regnorm_support::{chart, regression};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use regression::{Data, FEATURES, Fit, Kind};

const HELP: &str = "\
paths: Lasso, Ridge and ElasticNet on the diabetes data, solved with regnorm

USAGE:
    cargo run --release --example paths -- [OPTIONS]

OPTIONS:
    --alphas A,B,...  fit exactly these α (for all three regularizers) instead of the
                      grid of 50 from α_max (every Lasso weight zero) down to α_max/1000
    --csv FILE        write one row per fit: regularizer,alpha,n_samples,intercept,
                      coef_0..coef_9,zeros,objective,iterations
    --out DIR         where the SVG charts go (default: target/paths)
    --l1-ratio R      ElasticNet's l1_ratio (default 0.5)
    -h, --help        print this help

Objectives (scikit-learn's, n = 442):
    Lasso       (1/(2n))·‖y − Xw − b‖² + α·‖w‖₁
    ElasticNet  (1/(2n))·‖y − Xw − b‖² + α·(r·‖w‖₁ + (1 − r)/2·‖w‖²)
    Ridge       (1/(2n))·‖y − Xw − b‖² + α·‖w‖²   (regnorm's L2: scikit-learn's Ridge(alpha = 2·n·α))
The intercept b is not penalized. Stops at a duality gap (Lasso, ElasticNet) or gradient
norm (Ridge) of 1e-10, relative.
";

struct Args {
    alphas: Option<Vec<f64>>,
    csv: Option<PathBuf>,
    out: PathBuf,
    l1_ratio: f64,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        alphas: None,
        csv: None,
        out: PathBuf::from("target/paths"),
        l1_ratio: 0.5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--alphas" => {
                let list = value()?
                    .split(',')
                    .map(|s| match s.trim().parse::<f64>() {
                        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                        _ => Err(format!("--alphas: {s:?} is not a finite α ≥ 0")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                args.alphas = Some(list);
            }
            "--csv" => args.csv = Some(PathBuf::from(value()?)),
            "--out" => args.out = PathBuf::from(value()?),
            "--l1-ratio" => {
                let v = value()?;
                args.l1_ratio = match v.parse::<f64>() {
                    Ok(r) if (0.0..=1.0).contains(&r) => r,
                    _ => return Err(format!("--l1-ratio: {v:?} is not in [0, 1]")),
                };
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(Some(args))
}

/// The relative tolerance of every fit.
const TOL: f64 = 1e-10;

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let data = match Data::diabetes() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot read the diabetes data: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "diabetes data: {} patients × {} features, all rows, from data/diabetes.csv (Efron et al. 2004, \
         scikit-learn's copy; see data/README.md), features scaled as scikit-learn's load_diabetes()",
        data.n, data.p
    );
    let alpha_max = data.alpha_max();
    let grid = args.alphas.is_none();
    let alphas = args
        .alphas
        .clone()
        .unwrap_or_else(|| regression::log_grid(alpha_max, 1000.0, 50));
    println!("α_max = {alpha_max:.6} (the smallest α at which every Lasso coefficient is zero)\n");
    let kinds = [
        Kind::Lasso,
        Kind::Ridge,
        Kind::ElasticNet {
            l1_ratio: args.l1_ratio,
        },
    ];
    let paths: Vec<Vec<Fit>> = kinds
        .iter()
        .map(|&k| regression::path(&data, k, &alphas, TOL))
        .collect();

    for (kind, fits) in kinds.iter().zip(&paths) {
        print_table(*kind, fits, &data);
    }
    if grid {
        print_entry_order(&paths[0]);
    }
    if let Some(csv) = &args.csv {
        if let Err(e) = std::fs::write(csv, csv_rows(&paths, data.n)) {
            eprintln!("error: cannot write {}: {e}", csv.display());
            return ExitCode::FAILURE;
        }
        println!(
            "\nCSV: {} ({} fits)",
            csv.display(),
            paths.iter().map(Vec::len).sum::<usize>()
        );
    }
    if let Err(e) = charts(&args.out, &kinds, &paths) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "\ncharts: {}/coefficients.svg, {}/nonzeros.svg",
        args.out.display(),
        args.out.display()
    );
    ExitCode::SUCCESS
}

fn title(kind: Kind) -> String {
    match kind {
        Kind::Lasso => "Lasso (L1)".into(),
        Kind::Ridge => "Ridge (L2)".into(),
        Kind::ElasticNet { l1_ratio } => format!("ElasticNet (l1_ratio {l1_ratio})"),
    }
}

fn print_table(kind: Kind, fits: &[Fit], data: &Data) {
    println!("### {}\n", title(kind));
    println!("| α | non-zeros | training MSE | objective | iterations |");
    println!("|---:|---:|---:|---:|---:|");
    for f in fits {
        println!(
            "| {:.5e} | {} | {:.2} | {:.6} | {} |",
            f.alpha,
            f.nonzeros(),
            f.mse(data),
            f.objective,
            f.iterations
        );
    }
    println!();
}

/// The order in which features become non-zero as α falls along the Lasso
/// path.
fn print_entry_order(lasso: &[Fit]) {
    let mut order: Vec<(usize, f64)> = Vec::new();
    for f in lasso {
        for (j, &c) in f.coef.iter().enumerate() {
            if c != 0.0 && !order.iter().any(|&(k, _)| k == j) {
                order.push((j, f.alpha));
            }
        }
    }
    let list: Vec<String> = order
        .iter()
        .map(|&(j, a)| format!("{} (α {a:.4})", FEATURES[j]))
        .collect();
    println!(
        "Lasso: features enter the model in this order as α falls: {}",
        list.join(", ")
    );
}

fn csv_rows(paths: &[Vec<Fit>], n: usize) -> String {
    let mut out = String::from("regularizer,alpha,n_samples,intercept");
    for j in 0..FEATURES.len() {
        let _ = write!(out, ",coef_{j}");
    }
    out.push_str(",zeros,objective,iterations\n");
    for f in paths.iter().flatten() {
        let _ = write!(out, "{},{:?},{n},{:?}", f.kind.name(), f.alpha, f.intercept);
        for c in &f.coef {
            let _ = write!(out, ",{c:?}");
        }
        let zeros = f.coef.len() - f.nonzeros();
        let _ = writeln!(out, ",{zeros},{:?},{}", f.objective, f.iterations);
    }
    out
}

fn charts(dir: &std::path::Path, kinds: &[Kind], paths: &[Vec<Fit>]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let coefficients: Vec<chart::Panel> = kinds
        .iter()
        .zip(paths)
        .map(|(&kind, fits)| chart::Panel {
            title: format!("{}: coefficients against α", title(kind)),
            x_label: "α (log scale)".into(),
            y_label: "coefficient".into(),
            log_x: true,
            legend: None,
            series: (0..FEATURES.len())
                .map(|j| chart::Series {
                    name: FEATURES[j].into(),
                    points: fits.iter().map(|f| (f.alpha, f.coef[j])).collect(),
                    look: chart::Look::Other(j),
                })
                .collect(),
        })
        .collect();
    chart::write_svg(&dir.join("coefficients.svg"), &coefficients)?;
    let nonzeros = chart::Panel {
        title: "non-zero coefficients against α".into(),
        x_label: "α (log scale)".into(),
        y_label: "non-zero coefficients".into(),
        log_x: true,
        legend: Some(chart::LegendPosition::LowerLeft),
        series: kinds
            .iter()
            .zip(paths)
            .enumerate()
            .map(|(i, (&kind, fits))| chart::Series {
                name: title(kind),
                points: fits
                    .iter()
                    .map(|f| (f.alpha, f.nonzeros() as f64))
                    .collect(),
                look: chart::Look::Other(i),
            })
            .collect(),
    };
    chart::write_svg(&dir.join("nonzeros.svg"), &[nonzeros])
}
