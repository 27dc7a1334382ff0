//! Linear regression with an unpenalized intercept, regularized by regnorm:
//! the diabetes data, scikit-learn's objectives, and a proximal-gradient
//! solver (FISTA with adaptive restart) whose penalty, gradient and
//! proximal steps are regnorm's calls. Shared by the `paths` example and
//! its tests (`tests/paths.rs`).
#![allow(dead_code)]

use regnorm::{ElasticNet, L1, L2, Regularizer};

/// The feature names of the diabetes data, in column order.
pub const FEATURES: [&str; 10] = [
    "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
];

/// A regression data set: `n` rows of `p` features (row-major) and targets.
pub struct Data {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub n: usize,
    pub p: usize,
}

impl Data {
    /// The diabetes data shipped in `data/diabetes.csv` (all 442 rows),
    /// each feature centered and scaled to unit Euclidean norm, as
    /// scikit-learn's `load_diabetes()` does.
    pub fn diabetes() -> Result<Data, String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/diabetes.csv");
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let mut rows = text.lines();
        rows.next().ok_or("empty data file")?;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (i, line) in rows.enumerate() {
            let v: Vec<f64> = line
                .split(',')
                .map(|f| {
                    f.trim()
                        .parse::<f64>()
                        .map_err(|e| format!("row {}: {e}", i + 2))
                })
                .collect::<Result<_, _>>()?;
            if v.len() != FEATURES.len() + 1 {
                return Err(format!("row {}: {} columns", i + 2, v.len()));
            }
            x.extend_from_slice(&v[..FEATURES.len()]);
            y.push(v[FEATURES.len()]);
        }
        let mut data = Data {
            n: y.len(),
            p: FEATURES.len(),
            x,
            y,
        };
        data.standardize();
        Ok(data)
    }

    /// Centers each column and scales it to unit Euclidean norm.
    fn standardize(&mut self) {
        for j in 0..self.p {
            let mean = (0..self.n).map(|i| self.x[i * self.p + j]).sum::<f64>() / self.n as f64;
            let norm = (0..self.n)
                .map(|i| (self.x[i * self.p + j] - mean).powi(2))
                .sum::<f64>()
                .sqrt();
            for i in 0..self.n {
                self.x[i * self.p + j] = (self.x[i * self.p + j] - mean) / norm;
            }
        }
    }

    /// `Xw + b`.
    pub fn predict(&self, w: &[f64], b: f64) -> Vec<f64> {
        self.x
            .chunks_exact(self.p)
            .map(|row| row.iter().zip(w).map(|(a, c)| a * c).sum::<f64>() + b)
            .collect()
    }

    /// `Xw + b − y`.
    pub fn residual(&self, w: &[f64], b: f64) -> Vec<f64> {
        self.predict(w, b)
            .iter()
            .zip(&self.y)
            .map(|(p, y)| p - y)
            .collect()
    }

    /// `Xᵀv / n`.
    pub fn xt_over_n(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.p];
        for (i, &vi) in v.iter().enumerate() {
            for (o, &a) in out.iter_mut().zip(&self.x[i * self.p..(i + 1) * self.p]) {
                *o += a * vi;
            }
        }
        out.iter_mut().for_each(|o| *o /= self.n as f64);
        out
    }

    pub fn mean_y(&self) -> f64 {
        self.y.iter().sum::<f64>() / self.n as f64
    }

    /// The largest eigenvalue of `[X 1]ᵀ[X 1] / n` (power iteration): the
    /// Lipschitz constant of the data term's gradient in `(w, b)`.
    pub fn lipschitz(&self) -> f64 {
        let mut v = vec![1.0; self.p + 1];
        let mut lambda = 0.0;
        for _ in 0..500 {
            let r = self.predict(&v[..self.p], v[self.p]); // [X 1] v
            let mut next = self.xt_over_n(&r);
            next.push(r.iter().sum::<f64>() / self.n as f64);
            let norm = next.iter().map(|a| a * a).sum::<f64>().sqrt();
            lambda = norm / v.iter().map(|a| a * a).sum::<f64>().sqrt();
            v = next.into_iter().map(|a| a / norm).collect();
        }
        lambda * (1.0 + 1e-9)
    }

    /// The smallest α at which every Lasso coefficient is zero:
    /// `max_j |Xᵀ(y − ȳ)|_j / n`.
    pub fn alpha_max(&self) -> f64 {
        let yc: Vec<f64> = self.y.iter().map(|v| v - self.mean_y()).collect();
        self.xt_over_n(&yc).iter().fold(0.0, |m, v| m.max(v.abs()))
    }
}

/// The three regularizers of scikit-learn's linear models, with regnorm's
/// conventions: Lasso `α‖w‖₁`; Ridge `α‖w‖²` (regnorm's `L2`, no ½:
/// scikit-learn's `Ridge(alpha = 2·n·α)`); ElasticNet
/// `α·(r‖w‖₁ + (1 − r)/2·‖w‖²)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Lasso,
    Ridge,
    ElasticNet { l1_ratio: f64 },
}

impl Kind {
    /// The name the CSV uses: `l1`, `l2`, `elastic_net`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Lasso => "l1",
            Kind::Ridge => "l2",
            Kind::ElasticNet { .. } => "elastic_net",
        }
    }

    /// The ℓ1 and ℓ2 weights: the penalty is `a·‖w‖₁ + (c/2)·‖w‖²`.
    fn weights(self, alpha: f64) -> (f64, f64) {
        match self {
            Kind::Lasso => (alpha, 0.0),
            Kind::Ridge => (0.0, 2.0 * alpha),
            Kind::ElasticNet { l1_ratio } => (alpha * l1_ratio, alpha * (1.0 - l1_ratio)),
        }
    }
}

/// One fitted model.
#[derive(Clone, Debug)]
pub struct Fit {
    pub kind: Kind,
    pub alpha: f64,
    pub intercept: f64,
    pub coef: Vec<f64>,
    pub iterations: usize,
    /// `(1/(2n))‖y − Xw − b‖² + penalty(w)`.
    pub objective: f64,
    /// The duality gap (Lasso, ElasticNet) or the gradient norm (Ridge)
    /// relative to its scale, at the stop.
    pub criterion: f64,
}

impl Fit {
    pub fn nonzeros(&self) -> usize {
        self.coef.iter().filter(|&&c| c != 0.0).count()
    }
    pub fn mse(&self, data: &Data) -> f64 {
        data.residual(&self.coef, self.intercept)
            .iter()
            .map(|r| r * r)
            .sum::<f64>()
            / data.n as f64
    }
}

/// regnorm's regularizer for `kind` at strength `alpha`.
enum Reg {
    L1(L1),
    L2(L2),
    En(ElasticNet),
}

impl Reg {
    fn new(kind: Kind, alpha: f64) -> Reg {
        match kind {
            Kind::Lasso => Reg::L1(L1::new(alpha).expect("α ≥ 0")),
            Kind::Ridge => Reg::L2(L2::new(alpha).expect("α ≥ 0")),
            Kind::ElasticNet { l1_ratio } => {
                Reg::En(ElasticNet::new(alpha, l1_ratio).expect("α ≥ 0, 0 ≤ r ≤ 1"))
            }
        }
    }
    fn penalty(&self, w: &[f64]) -> f64 {
        match self {
            Reg::L1(r) => r.penalty(w),
            Reg::L2(r) => r.penalty(w),
            Reg::En(r) => r.penalty(w),
        }
    }
    /// The smooth part's gradient: Ridge's `2αw` is added into `g`.
    fn add_smooth_gradient(&self, w: &[f64], g: &mut [f64]) {
        if let Reg::L2(r) = self {
            r.add_gradient(w, g).expect("same lengths");
        }
    }
    /// The proximal step of the non-smooth part (Lasso, ElasticNet).
    fn prox(&self, w: &mut [f64], eta: f64) {
        match self {
            Reg::L1(r) => _ = r.prox_step(w, eta).expect("η > 0"),
            Reg::En(r) => _ = r.prox_step(w, eta).expect("η > 0"),
            Reg::L2(_) => {}
        }
    }
}

/// The objective `(1/(2n))‖y − Xw − b‖² + penalty(w)`, the penalty by regnorm.
fn objective(data: &Data, reg: &Reg, w: &[f64], b: f64) -> f64 {
    let r = data.residual(w, b);
    r.iter().map(|v| v * v).sum::<f64>() / (2.0 * data.n as f64) + reg.penalty(w)
}

/// The duality gap of Lasso/ElasticNet at `w` (with the intercept that is
/// optimal for `w`), as scikit-learn's coordinate descent computes it,
/// divided by `n` to match the objective's scale.
fn duality_gap(data: &Data, kind: Kind, alpha: f64, w: &[f64]) -> f64 {
    let n = data.n as f64;
    let (l1, l2) = kind.weights(alpha);
    let (l1, l2) = (l1 * n, l2 * n);
    let yc: Vec<f64> = data.y.iter().map(|v| v - data.mean_y()).collect();
    // R = y_c − Xw (X is centered, so the optimal intercept is ȳ).
    let xw = data.predict(w, 0.0);
    let r: Vec<f64> = yc.iter().zip(&xw).map(|(a, b)| a - b).collect();
    let xtr: Vec<f64> = data.xt_over_n(&r).iter().map(|v| v * n).collect();
    let xta: Vec<f64> = xtr.iter().zip(w).map(|(a, wj)| a - l2 * wj).collect();
    let dual_norm = xta.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let r2: f64 = r.iter().map(|v| v * v).sum();
    let w1: f64 = w.iter().map(|v| v.abs()).sum();
    let w2: f64 = w.iter().map(|v| v * v).sum();
    let (konst, mut gap) = if dual_norm > l1 {
        let k = l1 / dual_norm;
        (k, 0.5 * (r2 + r2 * k * k))
    } else {
        (1.0, r2)
    };
    let ry: f64 = r.iter().zip(&yc).map(|(a, b)| a * b).sum();
    gap += l1 * w1 - konst * ry + 0.5 * l2 * (1.0 + konst * konst) * w2;
    gap / n
}

/// Fits `kind` at `alpha` from `start` (a warm start) until the relative
/// duality gap (Lasso, ElasticNet) or gradient norm (Ridge) is at most
/// `tol`, or `max_iter` iterations.
pub fn fit(
    data: &Data,
    kind: Kind,
    alpha: f64,
    start: Option<&Fit>,
    tol: f64,
    max_iter: usize,
) -> Fit {
    let reg = Reg::new(kind, alpha);
    let p = data.p;
    let (_, l2_weight) = kind.weights(alpha);
    // The smooth part: the data term, plus Ridge's α‖w‖².
    let smooth_l = data.lipschitz() + if kind == Kind::Ridge { l2_weight } else { 0.0 };
    let eta = 1.0 / smooth_l;
    let (mut w, mut b) = match start {
        Some(f) => (f.coef.clone(), f.intercept),
        None => (vec![0.0; p], data.mean_y()),
    };
    let (mut w_prev, mut b_prev) = (w.clone(), b);
    let mut t = 1.0f64;
    let grad_scale = {
        let yc: Vec<f64> = data.y.iter().map(|v| v - data.mean_y()).collect();
        data.xt_over_n(&yc)
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE)
    };
    let mut criterion = f64::INFINITY;
    let mut iterations = 0;
    while iterations < max_iter {
        iterations += 1;
        // The extrapolated point.
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        let m = (t - 1.0) / t_next;
        let v: Vec<f64> = w
            .iter()
            .zip(&w_prev)
            .map(|(a, c)| a + m * (a - c))
            .collect();
        let vb = b + m * (b - b_prev);
        // The smooth gradient at it: Xᵀ(Xv + b − y)/n (+ 2αv for Ridge).
        let r = data.residual(&v, vb);
        let mut g = data.xt_over_n(&r);
        reg.add_smooth_gradient(&v, &mut g);
        let gb = r.iter().sum::<f64>() / data.n as f64;
        // The gradient step, then regnorm's proximal step.
        let mut next: Vec<f64> = v.iter().zip(&g).map(|(a, gj)| a - eta * gj).collect();
        reg.prox(&mut next, eta);
        let next_b = vb - eta * gb;
        // Adaptive restart: momentum that points uphill is dropped.
        let uphill: f64 = v
            .iter()
            .zip(&next)
            .zip(&w)
            .map(|((vj, nj), wj)| (vj - nj) * (nj - wj))
            .sum::<f64>()
            + (vb - next_b) * (next_b - b);
        (w_prev, b_prev) = (
            std::mem::replace(&mut w, next),
            std::mem::replace(&mut b, next_b),
        );
        t = if uphill > 0.0 { 1.0 } else { t_next };
        if iterations % 10 == 0 || iterations == max_iter {
            criterion = stop_criterion(data, kind, alpha, &reg, &w, b, grad_scale);
            if criterion <= tol {
                break;
            }
        }
    }
    let objective = objective(data, &reg, &w, b);
    Fit {
        kind,
        alpha,
        intercept: b,
        coef: w,
        iterations,
        objective,
        criterion,
    }
}

/// The relative stopping criterion at `(w, b)`.
fn stop_criterion(
    data: &Data,
    kind: Kind,
    alpha: f64,
    reg: &Reg,
    w: &[f64],
    b: f64,
    grad_scale: f64,
) -> f64 {
    // The intercept's own optimality: b = ȳ (X is centered).
    let b_err = (b - data.mean_y()).abs() / data.mean_y().abs().max(1.0);
    let main = match kind {
        Kind::Ridge => {
            let r = data.residual(w, b);
            let mut g = data.xt_over_n(&r);
            reg.add_smooth_gradient(w, &mut g);
            g.iter().map(|v| v * v).sum::<f64>().sqrt() / grad_scale
        }
        _ => {
            let gap = duality_gap(data, kind, alpha, w);
            gap.max(0.0) / objective(data, reg, w, data.mean_y()).max(f64::MIN_POSITIVE)
        }
    };
    main.max(b_err)
}

/// `n` values from `hi` down to `hi / ratio`, evenly spaced in log scale.
pub fn log_grid(hi: f64, ratio: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| hi * ratio.powf(-(k as f64) / (n.max(2) - 1) as f64))
        .collect()
}

/// Fits every α of `alphas` in order, each warm-started from the last.
pub fn path(data: &Data, kind: Kind, alphas: &[f64], tol: f64) -> Vec<Fit> {
    let mut fits: Vec<Fit> = Vec::with_capacity(alphas.len());
    for &alpha in alphas {
        let f = fit(data, kind, alpha, fits.last(), tol, 1_000_000);
        fits.push(f);
    }
    fits
}
