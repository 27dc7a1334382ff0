//! Bitwise reproducibility across thread counts, pools and call sites.

mod common;

use common::*;
use rayon::prelude::*;
use regnorm::{ElasticNet, Exec, L1, L2, Regularizer, Sums};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn bits(s: Sums) -> (u64, u64) {
    (s.abs.to_bits(), s.sq.to_bits())
}

/// Lengths that give 0, 1, 2, 3 and many super-chunks, with ragged ends.
const LENGTHS: [usize; 7] = [0, 1_000, 65_536, 65_537, 200_003, 1_000_001, 2_500_017];

#[test]
fn one_tensor_same_bits_for_1_2_3_8_threads() {
    let data = Rng(7).vec_f32(LENGTHS[6] + 3);
    let data64 = Rng(8).vec_f64(LENGTHS[6] + 3);
    for &len in &LENGTHS {
        let x = &data[3..3 + len];
        let y = &data64[1..1 + len];
        let expected = bits(Exec::sequential().sums(x));
        let expected64 = bits(Exec::sequential().sums(y));
        if len <= 200_003 {
            assert_eq!(bits(reference().sums(x)), expected, "scalar, len {len}");
            assert_eq!(
                bits(reference().sums(y)),
                expected64,
                "scalar f64, len {len}"
            );
        }
        for threads in [1, 2, 3, 8] {
            let p = pool(threads);
            assert_eq!(
                bits(p.install(|| Exec::new().sums(x))),
                expected,
                "{threads} threads, len {len}"
            );
            assert_eq!(
                bits(p.install(|| Exec::new().sums(y))),
                expected64,
                "{threads} threads f64, len {len}"
            );
            for (tier, exec) in tier_execs() {
                let got = p.install(|| exec.with_parallel(true).sums(x));
                assert_eq!(bits(got), expected, "{tier}, {threads} threads, len {len}");
            }
        }
        // From outside any pool (the global pool).
        assert_eq!(
            bits(Exec::new().sums(x)),
            expected,
            "global pool, len {len}"
        );
        assert_eq!(
            bits(regnorm::sums(y)),
            expected64,
            "global pool f64, len {len}"
        );
    }
}

/// A model shaped like a small CNN: a few large tensors, many tiny ones.
fn cnn_like_model(seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed);
    let shapes = [
        9408, 64, 64, 36864, 64, 64, 36864, 64, 64, 73728, 128, 128, 147456, 128, 128, 8192, 128,
        128, 294912, 256, 256, 589824, 256, 256, 32768, 256, 256, 1179648, 512, 512, 2359296, 512,
        512, 131072, 512, 512, 512000, 1000, 3, 0, 1,
    ];
    shapes.iter().map(|&n| rng.vec_f32(n)).collect()
}

#[test]
fn model_same_bits_for_1_2_3_8_threads_and_equals_tensor_by_tensor() {
    let model = cnn_like_model(11);
    let slices: Vec<&[f32]> = model.iter().map(Vec::as_slice).collect();
    // The definition: tensors' sums added in order in f64.
    let by_hand = slices
        .iter()
        .fold(Sums::ZERO, |acc, t| acc + Exec::sequential().sums(t));
    assert_eq!(bits(Exec::sequential().model_sums(&slices)), bits(by_hand));
    for threads in [1, 2, 3, 8] {
        let p = pool(threads);
        let got = p.install(|| Exec::new().model_sums(&slices));
        assert_eq!(bits(got), bits(by_hand), "{threads} threads");
        let l1 = L1::new(0.01).unwrap();
        let l2 = L2::new(0.02).unwrap();
        let en = ElasticNet::new(0.03, 0.4).unwrap();
        assert_eq!(
            p.install(|| l1.penalty_model(&slices)).to_bits(),
            (0.01 * by_hand.abs).to_bits()
        );
        assert_eq!(
            p.install(|| l2.penalty_model(&model)).to_bits(),
            (0.02 * by_hand.sq).to_bits()
        );
        let en_expected = 0.03 * (0.4 * by_hand.abs + (1.0 - 0.4) / 2.0 * by_hand.sq);
        assert_eq!(
            p.install(|| en.penalty_model(model.iter())).to_bits(),
            en_expected.to_bits()
        );
    }
    assert_eq!(
        bits(Exec::new().model_sums(&model)),
        bits(by_hand),
        "global pool"
    );
}

/// Calls nested inside rayon tasks, inside and outside pools, agree.
#[test]
fn nested_calls_from_rayon_tasks() {
    let model = cnn_like_model(12);
    let expected: Vec<_> = model
        .iter()
        .map(|t| bits(Exec::sequential().sums(t)))
        .collect();
    let nested: Vec<_> = model.par_iter().map(|t| bits(regnorm::sums(t))).collect();
    assert_eq!(nested, expected);
    let p = pool(3);
    let nested_in_pool: Vec<_> =
        p.install(|| model.par_iter().map(|t| bits(regnorm::sums(t))).collect());
    assert_eq!(nested_in_pool, expected);
    let l2 = L2::new(1.0).unwrap();
    let inner: Vec<u64> = p.install(|| {
        (0..4)
            .into_par_iter()
            .map(|_| l2.penalty_model(&model).to_bits())
            .collect()
    });
    assert!(inner.iter().all(|&b| b == inner[0]));
}

/// Many threads making their first call at once all see one tier choice and
/// the same bits.
#[test]
fn concurrent_first_calls() {
    let x = Rng(3).vec_f32(100_000);
    let expected = bits(Exec::sequential().sums(&x));
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| s.spawn(|| (regnorm::Tier::best(), bits(regnorm::sums(&x)))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (tier, got) in results {
        assert_eq!(tier, regnorm::Tier::best());
        assert_eq!(got, expected);
    }
}

/// A model of 100,000 tiny tensors: batched, same bits as one by one.
#[test]
fn hundred_thousand_tiny_tensors() {
    let mut rng = Rng(5);
    let model: Vec<Vec<f32>> = (0..100_000).map(|i| rng.vec_f32(i % 13)).collect();
    let by_hand = model
        .iter()
        .fold(Sums::ZERO, |acc, t| acc + Exec::sequential().sums(t));
    for threads in [1, 2, 8] {
        let got = pool(threads).install(|| Exec::new().model_sums(&model));
        assert_eq!(bits(got), bits(by_hand), "{threads} threads");
    }
    assert_eq!(bits(Exec::new().model_sums(&model)), bits(by_hand));
}

/// The cached tier selection under a real first-call race: fresh processes
/// in which 16 threads, released together by a barrier, make the process's
/// very first regnorm calls. Every thread must see one tier and one result.
#[test]
fn first_calls_race_in_fresh_processes() {
    if std::env::var_os("REGNORM_RACE_CHILD").is_some() {
        return;
    }
    for _ in 0..10 {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "race_child", "--nocapture", "--test-threads=1"])
            .env("REGNORM_RACE_CHILD", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("race ok"),
            "child failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The child side of [`first_calls_race_in_fresh_processes`].
#[test]
fn race_child() {
    if std::env::var_os("REGNORM_RACE_CHILD").is_none() {
        return;
    }
    let x: Vec<f32> = (0..5000).map(|i| i as f32 * 0.25 - 300.0).collect();
    let barrier = std::sync::Barrier::new(16);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    (regnorm::Tier::best(), bits(regnorm::sums(&x)))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let expected = bits(
        Exec::sequential()
            .with_tier(regnorm::Tier::Scalar)
            .unwrap()
            .sums(&x),
    );
    for (tier, got) in &results {
        assert_eq!(*tier, results[0].0);
        assert_eq!(*got, expected);
    }
    assert_eq!(results[0].0, *regnorm::Tier::available().last().unwrap());
    println!("race ok");
}
