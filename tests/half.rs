//! bf16 and f16: reductions equal those of the exact widening to f32, bit
//! for bit, on every tier and thread count; element-wise ops equal the f32
//! op on the widened values rounded once to the half type, over all 65,536
//! bit patterns of each type; the documented NaN/Inf/subnormal rules.
#![cfg(feature = "half")]

mod common;

use common::*;
use half::{bf16, f16};
use proptest::prelude::*;
use regnorm::{ClipGradNorm, ElasticNet, Element, Exec, L1, L2, Regularizer, WeightDecay};

/// What the tests need of a half type.
trait Half: Element + Copy + Default + core::fmt::Debug {
    const NAME: &'static str;
    fn from_bits(b: u16) -> Self;
    fn to_bits(self) -> u16;
    fn to_f32(self) -> f32;
    fn from_f32(v: f32) -> Self;
}

/// The `half` crate's own methods, under one trait for both types.
macro_rules! half_type {
    ($t:ty, $name:literal) => {
        impl Half for $t {
            const NAME: &'static str = $name;
            fn from_bits(b: u16) -> $t {
                <$t>::from_bits(b)
            }
            fn to_bits(self) -> u16 {
                <$t>::to_bits(self)
            }
            fn to_f32(self) -> f32 {
                <$t>::to_f32(self)
            }
            fn from_f32(v: f32) -> $t {
                <$t>::from_f32(v)
            }
        }
    };
}
half_type!(bf16, "bf16");
half_type!(f16, "f16");

fn widen<H: Half>(x: &[H]) -> Vec<f32> {
    x.iter().map(|v| v.to_f32()).collect()
}

/// Every bit pattern, in an order that mixes magnitudes.
fn all_patterns<H: Half>() -> Vec<H> {
    (0..=u16::MAX)
        .map(|i| H::from_bits(i.wrapping_mul(40_503)))
        .collect()
}

/// Same bits, or both NaN (NaN payloads are unspecified).
fn same<H: Half>(a: H, b: H) -> bool {
    a.to_bits() == b.to_bits() || (a.to_f32().is_nan() && b.to_f32().is_nan())
}

fn assert_same<H: Half>(got: &[H], want: &[H], what: &str) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            same(g, w),
            "{what} {}: element {i}: got {:#06x} ({:e}), want {:#06x} ({:e})",
            H::NAME,
            g.to_bits(),
            g.to_f32(),
            w.to_bits(),
            w.to_f32()
        );
    }
}

fn reductions_equal_the_widening<H: Half>() {
    let mut rng = Rng(5);
    let finite: Vec<H> = (0..5_100)
        .map(|_| H::from_f32((rng.uniform_f32() - 0.5) * 8.0))
        .collect();
    let patterns = all_patterns::<H>();
    for (tier, exec) in tier_execs() {
        for len in (0..=5_000).step_by(7).chain([4095, 4096, 4097]) {
            for start in [0, 1, 3, 8, 15, 31] {
                let x = &finite[start..start + len.min(finite.len() - start)];
                let w = widen(x);
                let (a, b) = (exec.sums(x), exec.sums(&w));
                assert_eq!(
                    a.abs.to_bits(),
                    b.abs.to_bits(),
                    "{tier} {} len {len}",
                    H::NAME
                );
                assert_eq!(
                    a.sq.to_bits(),
                    b.sq.to_bits(),
                    "{tier} {} len {len}",
                    H::NAME
                );
            }
        }
        // Every pattern at once (NaN: canonical NaN either way).
        let (a, b) = (exec.sums(&patterns), exec.sums(&widen(&patterns)));
        assert_eq!(
            (a.abs.to_bits(), a.sq.to_bits()),
            (b.abs.to_bits(), b.sq.to_bits())
        );
        let no_nan: Vec<H> = patterns
            .iter()
            .copied()
            .filter(|v| !v.to_f32().is_nan())
            .collect();
        let (a, b) = (exec.sums(&no_nan), exec.sums(&widen(&no_nan)));
        assert_eq!(
            (a.abs.to_bits(), a.sq.to_bits()),
            (b.abs.to_bits(), b.sq.to_bits())
        );
    }
    // Threads: a large slice split over pools.
    let big: Vec<H> = (0..3_000_001).map(|i| finite[i % finite.len()]).collect();
    let want = reference().sums(&widen(&big));
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let got = pool.install(|| regnorm::sums(&big));
        assert_eq!(got.abs.to_bits(), want.abs.to_bits(), "{threads} threads");
        assert_eq!(got.sq.to_bits(), want.sq.to_bits(), "{threads} threads");
    }
}

#[test]
fn bf16_reductions_equal_the_widening() {
    reductions_equal_the_widening::<bf16>();
}

#[test]
fn f16_reductions_equal_the_widening() {
    reductions_equal_the_widening::<f16>();
}

/// The f32 op (scalar reference) on the widened values, rounded once.
fn rounded<H: Half>(
    f: impl FnOnce(&mut Vec<f32>, &mut Vec<f32>),
    w: &[H],
    g: &[H],
) -> (Vec<H>, Vec<H>) {
    let (mut w32, mut g32) = (widen(w), widen(g));
    f(&mut w32, &mut g32);
    (
        w32.into_iter().map(H::from_f32).collect(),
        g32.into_iter().map(H::from_f32).collect(),
    )
}

/// One regularizer's element-wise ops on `H` against the f32 ops (scalar
/// reference) rounded once.
fn check_regularizer<H: Half, R: Regularizer + Copy>(
    name: &str,
    reg: R,
    eta: f64,
    w: &[H],
    g: &[H],
) {
    let r = reference();
    for (tier, exec) in tier_execs()
        .into_iter()
        .chain([(regnorm::Tier::best(), Exec::new())])
    {
        let (reg_h, reg_f) = (reg.with_exec(exec), reg.with_exec(r));
        // Gradient: g ← g + λ·(sign(w) and/or 2w).
        let mut gh = g.to_vec();
        reg_h.add_gradient(w, &mut gh).unwrap();
        let (_, want) = rounded(|w32, g32| reg_f.add_gradient(w32, g32).unwrap(), w, g);
        assert_same(&gh, &want, &format!("{tier} {name} add_gradient"));
        // Proximal step.
        let mut wh = w.to_vec();
        let stats = reg_h.prox_step(&mut wh, eta).unwrap();
        let (want, _) = rounded(
            |w32, _| {
                reg_f.prox_step(w32, eta).unwrap();
            },
            w,
            g,
        );
        assert_same(&wh, &want, &format!("{tier} {name} prox_step"));
        // Its penalty and zeros describe the stored (rounded) weights.
        let zeros = wh.iter().filter(|v| v.to_f32() == 0.0).count();
        assert_eq!(stats.zeros, zeros, "{tier} {name} zeros");
        let p = reg_h.penalty(&wh);
        assert!(
            stats.penalty.to_bits() == p.to_bits() || (p.is_nan() && stats.penalty.is_nan()),
            "{tier} {name}: prox penalty {} vs the penalty of the result {p}",
            stats.penalty
        );
    }
}

fn elementwise_ops_round_once<H: Half>() {
    let w = all_patterns::<H>();
    // Gradients: every pattern again, in another order.
    let g: Vec<H> = (0..=u16::MAX)
        .map(|i| H::from_bits(i.wrapping_mul(7).rotate_left(5)))
        .collect();
    check_regularizer("l1", L1::new(0.03).unwrap(), 0.7, &w, &g);
    check_regularizer("l2", L2::new(0.2).unwrap(), 0.7, &w, &g);
    // A scale of exactly 1/2: every odd subnormal becomes a tie.
    check_regularizer("l2, halving", L2::new(0.5).unwrap(), 1.0, &w, &g);
    check_regularizer(
        "elastic net",
        ElasticNet::new(0.1, 0.3).unwrap(),
        0.7,
        &w,
        &g,
    );
    let r = reference();
    for (tier, exec) in tier_execs()
        .into_iter()
        .chain([(regnorm::Tier::best(), Exec::new())])
    {
        // Weight decay.
        let decay = WeightDecay::new(0.01).unwrap();
        let mut wh = w.clone();
        decay.with_exec(exec).apply(&mut wh, 0.5).unwrap();
        let (want, _) = rounded(|w32, _| decay.with_exec(r).apply(w32, 0.5).unwrap(), &w, &g);
        assert_same(&wh, &want, &format!("{tier} weight decay"));
        // Clipping: the norm of the widened values, then the f32 scale.
        let finite: Vec<H> = g
            .iter()
            .copied()
            .filter(|v| v.to_f32().is_finite())
            .collect();
        let clip = ClipGradNorm::new(1.0).unwrap();
        let mut gh = finite.clone();
        let norm = clip.with_exec(exec).clip(&mut gh).unwrap();
        let mut g32 = widen(&finite);
        let norm32 = clip.with_exec(r).clip(&mut g32).unwrap();
        assert_eq!(norm.to_bits(), norm32.to_bits(), "{tier} clip norm");
        let want: Vec<H> = g32.into_iter().map(H::from_f32).collect();
        assert_same(&gh, &want, &format!("{tier} clip scale"));
    }
}

#[test]
fn bf16_elementwise_ops_round_once_over_every_bit_pattern() {
    elementwise_ops_round_once::<bf16>();
}

#[test]
fn f16_elementwise_ops_round_once_over_every_bit_pattern() {
    elementwise_ops_round_once::<f16>();
}

/// The documented rules: NaN wins, ±Inf gives +Inf, subnormals count, −0
/// counts as 0; bf16 squares beyond f32's range overflow to +Inf.
#[test]
fn nan_inf_and_subnormal_rules() {
    for (tier, exec) in tier_execs() {
        let nan = [bf16::ONE, bf16::NAN, bf16::INFINITY];
        assert!(exec.sum_abs(&nan).is_nan(), "{tier}");
        assert_eq!(
            exec.sum_sq(&[f16::NEG_INFINITY, f16::ONE]),
            f64::INFINITY,
            "{tier}"
        );
        let tiny = [f16::from_bits(1); 100]; // 2^-24, the smallest f16 subnormal
        assert_eq!(exec.sum_abs(&tiny), 100.0 * 2f64.powi(-24), "{tier}");
        assert_eq!(exec.sum_sq(&tiny), 100.0 * 2f64.powi(-48), "{tier}");
        assert_eq!(exec.sum_abs(&[bf16::NEG_ZERO, bf16::ZERO]), 0.0, "{tier}");
        assert_eq!(
            exec.sum_sq(&[bf16::from_f32(2e19)]),
            f64::INFINITY,
            "{tier}"
        );
        assert_eq!(exec.sum_sq(&[f16::MAX]), 65504.0 * 65504.0, "{tier}");
    }
}

proptest! {
    /// The widening identity, on arbitrary bit patterns, lengths and starts.
    #[test]
    fn widening_identity(bits in prop::collection::vec(any::<u16>(), 0..3000), start in 0usize..40) {
        let start = start.min(bits.len());
        let b: Vec<bf16> = bits.iter().map(|&v| bf16::from_bits(v)).collect();
        let h: Vec<f16> = bits.iter().map(|&v| f16::from_bits(v)).collect();
        for (tier, exec) in tier_execs() {
            let (x, y) = (&b[start..], &h[start..]);
            let (a, w) = (exec.sums(x), exec.sums(&widen(x)));
            prop_assert_eq!((a.abs.to_bits(), a.sq.to_bits()), (w.abs.to_bits(), w.sq.to_bits()), "{} bf16", tier);
            let (a, w) = (exec.sums(y), exec.sums(&widen(y)));
            prop_assert_eq!((a.abs.to_bits(), a.sq.to_bits()), (w.abs.to_bits(), w.sq.to_bits()), "{} f16", tier);
        }
    }
}
