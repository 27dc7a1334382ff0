//! The public API: conventions, input forms, errors, NaN/Inf policy.

use regnorm::{ElasticNet, Error, Exec, L1, L2, Regularizer, Sums, Tier};

#[test]
fn conventions_follow_the_definitions() {
    let w = [0.5f32, -1.5, 2.0, -0.25, 0.0];
    let (s1, s2) = (4.25f64, 0.25 + 2.25 + 4.0 + 0.0625);
    assert_eq!(L1::new(0.1).unwrap().penalty(&w), 0.1 * s1);
    assert_eq!(L2::new(0.1).unwrap().penalty(&w), 0.1 * s2); // no factor 1/2
    let en = ElasticNet::new(0.1, 0.3).unwrap();
    assert_eq!(en.penalty(&w), 0.1 * (0.3 * s1 + (1.0 - 0.3) / 2.0 * s2));
    // The ends of the ElasticNet family.
    assert_eq!(
        ElasticNet::new(0.1, 1.0).unwrap().penalty(&w),
        L1::new(0.1).unwrap().penalty(&w)
    );
    assert_eq!(
        ElasticNet::new(0.2, 0.0).unwrap().penalty(&w),
        L2::new(0.1).unwrap().penalty(&w)
    );
}

#[test]
fn invalid_arguments_are_typed_errors() {
    for bad in [
        -1.0,
        -f64::MIN_POSITIVE,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        assert!(
            matches!(L1::new(bad), Err(Error::InvalidLambda { .. })),
            "{bad}"
        );
        assert!(
            matches!(L2::new(bad), Err(Error::InvalidLambda { .. })),
            "{bad}"
        );
        assert!(
            matches!(ElasticNet::new(bad, 0.5), Err(Error::InvalidLambda { .. })),
            "{bad}"
        );
    }
    for bad in [-0.1, 1.000_001, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(ElasticNet::new(0.1, bad), Err(Error::InvalidL1Ratio { .. })),
            "{bad}"
        );
    }
    assert!(
        L1::new(0.0).is_ok()
            && ElasticNet::new(0.0, 0.0).is_ok()
            && ElasticNet::new(1.0, 1.0).is_ok()
    );
    // Messages say what was wrong and what is allowed; the type is a std error.
    let e: Box<dyn std::error::Error> = Box::new(ElasticNet::new(0.1, 2.0).unwrap_err());
    assert_eq!(
        e.to_string(),
        "invalid ElasticNet l1_ratio = 2: it must lie in [0, 1]"
    );
    let e = L2::new(f64::NAN).unwrap_err().to_string();
    assert!(e.contains("NaN") && e.contains("finite and >= 0"), "{e}");
}

#[test]
fn empty_inputs_give_zero() {
    let empty: [f32; 0] = [];
    assert_eq!(regnorm::sum_abs(&empty), 0.0);
    assert_eq!(regnorm::sum_sq::<f64>(&[]), 0.0);
    assert_eq!(L1::new(1.0).unwrap().penalty(&empty), 0.0);
    let no_tensors: [&[f32]; 0] = [];
    assert_eq!(L2::new(1.0).unwrap().penalty_model(&no_tensors), 0.0);
    assert_eq!(
        L2::new(1.0)
            .unwrap()
            .penalty_model(vec![Vec::<f64>::new(); 5]),
        0.0
    );
    assert_eq!(Exec::new().model_sums(&no_tensors), Sums::ZERO);
}

#[test]
fn nan_and_inf_policy() {
    let l1 = L1::new(0.5).unwrap();
    let l2 = L2::new(0.5).unwrap();
    let en = ElasticNet::new(0.5, 0.5).unwrap();
    let with_nan = [1.0f32, f32::NAN, f32::INFINITY];
    let with_inf = [1.0f32, f32::NEG_INFINITY];
    assert!(
        l1.penalty(&with_nan).is_nan()
            && l2.penalty(&with_nan).is_nan()
            && en.penalty(&with_nan).is_nan()
    );
    assert_eq!(l1.penalty(&with_inf), f64::INFINITY);
    assert_eq!(l2.penalty(&with_inf), f64::INFINITY);
    assert_eq!(en.penalty(&with_inf), f64::INFINITY);
    // λ = 0: IEEE 0 × sum, as documented.
    let zero = L1::new(0.0).unwrap();
    assert_eq!(zero.penalty(&[1.0f32, -3.0]), 0.0);
    assert!(zero.penalty(&with_inf).is_nan());
    // An L1 penalty does not compute Σw², so f32 squares that overflow do not
    // touch it.
    assert_eq!(
        l1.penalty(&[1e20f32, -1e20]),
        0.5 * 2.0 * f64::from(1e20f32)
    );
    assert_eq!(
        ElasticNet::new(0.5, 1.0).unwrap().penalty(&[1e20f32]),
        0.5 * f64::from(1e20f32)
    );
    assert_eq!(l2.penalty(&[1e20f32]), f64::INFINITY);
}

#[test]
fn model_accepts_the_usual_shapes() {
    let a = vec![1.0f32, -2.0];
    let b = vec![3.0f32];
    let l1 = L1::new(1.0).unwrap();
    let expected = 6.0;
    assert_eq!(l1.penalty_model(&[&a[..], &b[..]]), expected);
    assert_eq!(l1.penalty_model(vec![&a[..], &b[..]]), expected);
    let owned_f32 = vec![a.clone(), b.clone()];
    assert_eq!(l1.penalty_model(&owned_f32), expected);
    assert_eq!(l1.penalty_model(owned_f32), expected);
    assert_eq!(l1.penalty_model([&a, &b]), expected);
    assert_eq!(
        l1.penalty_model([a.as_slice(), b.as_slice()].iter().copied()),
        expected
    );
    let mut c = a.clone();
    let mut d = b.clone();
    let mutable: Vec<&mut [f32]> = vec![&mut c, &mut d];
    assert_eq!(l1.penalty_model(mutable), expected);
    let owned: Vec<Vec<f64>> = vec![vec![1.0, -2.0], vec![3.0]];
    assert_eq!(l1.penalty_model(owned.iter().map(|t| &t[..])), expected);
}

#[test]
fn exec_configuration() {
    assert_eq!(Exec::default(), Exec::new());
    assert!(!Exec::sequential().is_parallel());
    assert_eq!(Exec::new().is_parallel(), cfg!(feature = "rayon"));
    let pinned = Exec::new().with_tier(Tier::Scalar).unwrap();
    assert_eq!(pinned.tier(), Tier::Scalar);
    let l1 = L1::new(1.0).unwrap().with_exec(pinned);
    assert_eq!(l1.exec(), pinned);
    assert_eq!(l1.penalty(&[1.0f64, -1.0]), 2.0);
    assert_eq!(Tier::Avx512.to_string(), "avx512");
    assert_eq!(Tier::ALL.len(), 4);
}

#[test]
fn fused_sums_equal_separate_calls() {
    let x: Vec<f32> = (0..10_007)
        .map(|i| ((i * 37) % 101) as f32 / 7.0 - 5.0)
        .collect();
    let s = regnorm::sums(&x);
    assert_eq!(s.abs.to_bits(), regnorm::sum_abs(&x).to_bits());
    assert_eq!(s.sq.to_bits(), regnorm::sum_sq(&x).to_bits());
    let en = ElasticNet::new(0.7, 0.2).unwrap();
    let by_parts = 0.7 * (0.2 * regnorm::sum_abs(&x) + (1.0 - 0.2) / 2.0 * regnorm::sum_sq(&x));
    assert_eq!(en.penalty(&x).to_bits(), by_parts.to_bits());
}
