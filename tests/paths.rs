//! The `paths` example's solver, checked by the optimality conditions of
//! each problem (computed here from the formulas, not from stored numbers).

use regnorm_support::regression;
use regression::{Data, Fit, Kind};

/// A tight tolerance, so that the conditions hold to 1e-8.
const TOL: f64 = 1e-13;

fn data() -> Data {
    Data::diabetes().expect("data/diabetes.csv")
}

/// `Xᵀr / n` with `r = y − Xw − b`: minus the data term's gradient.
fn correlation(data: &Data, f: &Fit) -> Vec<f64> {
    let r: Vec<f64> = data
        .residual(&f.coef, f.intercept)
        .iter()
        .map(|v| -v)
        .collect();
    data.xt_over_n(&r)
}

#[test]
fn the_data_is_all_442_rows_standardized() {
    let d = data();
    assert_eq!((d.n, d.p), (442, 10));
    for j in 0..d.p {
        let col: Vec<f64> = (0..d.n).map(|i| d.x[i * d.p + j]).collect();
        assert!(col.iter().sum::<f64>().abs() < 1e-12, "column {j} centered");
        assert!(
            (col.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12,
            "column {j} unit norm"
        );
    }
}

/// Lasso: |Xᵀr/n|_j ≤ α where w_j = 0, Xᵀr/n = α·sign(w_j) elsewhere.
#[test]
fn lasso_satisfies_its_optimality_conditions() {
    let d = data();
    let alpha_max = d.alpha_max();
    for frac in [0.9, 0.3, 0.05, 0.004] {
        let alpha = alpha_max * frac;
        let f = regression::fit(&d, Kind::Lasso, alpha, None, TOL, 200_000);
        let c = correlation(&d, &f);
        for (j, (&w, &cj)) in f.coef.iter().zip(&c).enumerate() {
            if w == 0.0 {
                assert!(
                    cj.abs() <= alpha + 1e-8,
                    "α {alpha}: |c_{j}| = {} > α",
                    cj.abs()
                );
            } else {
                assert!(
                    (cj - alpha * w.signum()).abs() <= 1e-8,
                    "α {alpha}: c_{j} = {cj}, w = {w}"
                );
            }
        }
        // The intercept is unpenalized: the residuals sum to zero.
        let r = d.residual(&f.coef, f.intercept);
        assert!(r.iter().sum::<f64>().abs() / d.n as f64 <= 1e-8);
        // Exact zeros wherever the condition holds strictly.
        for (j, &cj) in c.iter().enumerate() {
            if cj.abs() < alpha * (1.0 - 1e-6) {
                assert_eq!(
                    f.coef[j], 0.0,
                    "α {alpha}: feature {j} should be exactly zero"
                );
            }
        }
    }
    // At α_max every coefficient is exactly zero.
    let f = regression::fit(&d, Kind::Lasso, alpha_max, None, TOL, 100_000);
    assert!(f.coef.iter().all(|&w| w == 0.0));
    // Just below, one is not.
    let f = regression::fit(&d, Kind::Lasso, alpha_max * 0.99, None, TOL, 200_000);
    assert!(f.nonzeros() >= 1);
}

/// ElasticNet: Xᵀr/n − α(1−r)w_j = α·r·sign(w_j) where w_j ≠ 0,
/// |Xᵀr/n|_j ≤ α·r where w_j = 0.
#[test]
fn elastic_net_satisfies_its_optimality_conditions() {
    let d = data();
    for (l1_ratio, frac) in [(0.5, 0.5), (0.5, 0.02), (0.2, 0.1), (0.9, 0.005)] {
        let alpha = d.alpha_max() * frac;
        let f = regression::fit(&d, Kind::ElasticNet { l1_ratio }, alpha, None, TOL, 200_000);
        let c = correlation(&d, &f);
        for (j, (&w, &cj)) in f.coef.iter().zip(&c).enumerate() {
            let a = alpha * l1_ratio;
            if w == 0.0 {
                assert!(
                    cj.abs() <= a + 1e-8,
                    "r {l1_ratio} α {alpha}: |c_{j}| = {}",
                    cj.abs()
                );
            } else {
                let lhs = cj - alpha * (1.0 - l1_ratio) * w;
                assert!(
                    (lhs - a * w.signum()).abs() <= 1e-8,
                    "r {l1_ratio} α {alpha}: feature {j}: {lhs} vs {a}"
                );
            }
        }
    }
}

/// Solves the small dense system `a·x = b` (Gaussian elimination with
/// partial pivoting).
#[allow(clippy::needless_range_loop)] // the textbook index form
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| a[i][k].abs().total_cmp(&a[j][k].abs()))
            .unwrap();
        a.swap(k, p);
        b.swap(k, p);
        for i in k + 1..n {
            let m = a[i][k] / a[k][k];
            for j in k..n {
                a[i][j] -= m * a[k][j];
            }
            b[i] -= m * b[k];
        }
    }
    let mut x = vec![0.0; n];
    for k in (0..n).rev() {
        let s: f64 = (k + 1..n).map(|j| a[k][j] * x[j]).sum();
        x[k] = (b[k] - s) / a[k][k];
    }
    x
}

/// Ridge against its closed form: (XᵀX/n + 2αI)·w = Xᵀ(y − ȳ)/n, b = ȳ.
#[test]
fn ridge_matches_its_closed_form() {
    let d = data();
    let mut gram = vec![vec![0.0; d.p]; d.p];
    for i in 0..d.n {
        let row = &d.x[i * d.p..(i + 1) * d.p];
        for j in 0..d.p {
            for k in 0..d.p {
                gram[j][k] += row[j] * row[k] / d.n as f64;
            }
        }
    }
    let yc: Vec<f64> = d.y.iter().map(|v| v - d.mean_y()).collect();
    let rhs = d.xt_over_n(&yc);
    for alpha in [1.0, 0.05, 0.002] {
        let mut a = gram.clone();
        for (j, row) in a.iter_mut().enumerate() {
            row[j] += 2.0 * alpha;
        }
        let exact = solve(a, rhs.clone());
        let f = regression::fit(&d, Kind::Ridge, alpha, None, TOL, 200_000);
        for (j, (&w, &e)) in f.coef.iter().zip(&exact).enumerate() {
            assert!(
                (w - e).abs() <= 1e-8 * e.abs().max(1.0),
                "α {alpha}: w_{j} = {w}, closed form {e}"
            );
        }
        assert!((f.intercept - d.mean_y()).abs() <= 1e-8);
    }
}

/// Ridge shrinks: ‖w‖₂ falls as α grows along the path; no weight is zero.
#[test]
fn ridge_path_shrinks_monotonically() {
    let d = data();
    let alphas = regression::log_grid(d.alpha_max(), 1000.0, 20);
    let fits = regression::path(&d, Kind::Ridge, &alphas, 1e-12);
    let norms: Vec<f64> = fits
        .iter()
        .map(|f| f.coef.iter().map(|w| w * w).sum::<f64>().sqrt())
        .collect();
    for pair in norms.windows(2) {
        assert!(pair[0] < pair[1], "‖w‖ must grow as α falls: {pair:?}");
    }
    assert!(fits.iter().all(|f| f.nonzeros() == d.p));
}

/// Along the Lasso path, sparsity falls as α falls, from none at α_max.
#[test]
fn lasso_path_starts_empty_and_fills() {
    let d = data();
    let alphas = regression::log_grid(d.alpha_max(), 1000.0, 12);
    let fits = regression::path(&d, Kind::Lasso, &alphas, 1e-10);
    assert_eq!(fits[0].nonzeros(), 0);
    assert!(fits.last().unwrap().nonzeros() >= 9);
    assert!(fits.iter().all(|f| f.criterion <= 1e-10));
}
