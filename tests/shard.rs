//! Sharded models (`regnorm::shard`): for random models and random valid
//! layouts over 1..=5 "ranks" (simulated in one process), the merged
//! partials give the single-process bits of every sum, penalty, gradient and
//! clipping norm; bad layouts give one error to every rank, and nothing is
//! written.

use proptest::prelude::*;
use regnorm::shard::{Layout, Partial, Piece};
use regnorm::{ClipGradNorm, ElasticNet, Error, Exec, L1, L2, Regularizer};

const UNIT: usize = 16_384;

/// A model of `f32` tensors (lengths from 0 to 4.5 units) and, per rank,
/// its pieces as (tensor, element range).
#[derive(Debug, Clone)]
struct Case {
    model: Vec<Vec<f32>>,
    ranks: Vec<Vec<(usize, std::ops::Range<usize>)>>,
}

fn value(bits: u32, special: u8) -> f32 {
    match special {
        0 => f32::NAN,
        1 => f32::INFINITY,
        2 => f32::MIN_POSITIVE / 3.0,
        3 => 1e30,
        _ => (bits as f32 / u32::MAX as f32 - 0.5) * 8.0,
    }
}

fn case() -> impl Strategy<Value = Case> {
    let lens = prop::collection::vec(
        prop_oneof![0usize..3000, 0usize..(4 * UNIT + UNIT / 2)],
        0..6,
    );
    (lens, 1usize..=5, any::<u64>(), 0u8..40).prop_map(|(lens, ranks, seed, special)| {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let model: Vec<Vec<f32>> = lens
            .iter()
            .map(|&n| {
                (0..n)
                    .map(|_| {
                        value(
                            next() as u32,
                            if n > 0 && next() % 5000 == 0 {
                                special
                            } else {
                                9
                            },
                        )
                    })
                    .collect()
            })
            .collect();
        let mut pieces = vec![Vec::new(); ranks];
        for (t, &n) in lens.iter().enumerate() {
            // Cut at random unit boundaries, give each piece to a random rank.
            let units = n.div_ceil(UNIT);
            let mut start = 0;
            while start < units || (n == 0 && start == 0) {
                let take = 1 + (next() as usize) % units.max(1);
                let end = (start + take).min(units);
                let range = start * UNIT..(end * UNIT).min(n);
                pieces[(next() as usize) % ranks].push((t, range));
                if n == 0 {
                    break;
                }
                start = end;
            }
        }
        for p in &mut pieces {
            // Pieces in any order on a rank.
            p.reverse();
        }
        Case {
            model,
            ranks: pieces,
        }
    })
}

fn pieces<'a>(case: &Case, model: &'a [Vec<f32>], rank: usize) -> Vec<Piece<&'a [f32]>> {
    case.ranks[rank]
        .iter()
        .map(|(t, r)| Piece::new(*t, r.start, &model[*t][r.clone()]))
        .collect()
}

/// Every partial through the word encoding, as a transport carries it.
fn merge(layout: &Layout<f32>, parts: Vec<Partial>) -> Result<regnorm::shard::Merged, Error> {
    let parts: Vec<Partial> = parts
        .iter()
        .map(|p| Partial::decode(&p.encode()).unwrap())
        .collect();
    Partial::merge(layout, &parts)
}

fn bits(x: f64) -> u64 {
    x.to_bits()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn merged_sums_are_the_single_process_bits(case in case(), parallel in any::<bool>()) {
        let exec = Exec::new().with_parallel(parallel);
        let layout = Layout::of(&case.model);
        let ranks = case.ranks.len();
        let parts = (0..ranks).map(|r| exec.partial_sums(&layout, &pieces(&case, &case.model, r))).collect();
        let merged = merge(&layout, parts).unwrap();
        let whole = Exec::sequential().model_sums(&case.model);
        prop_assert_eq!(bits(merged.total.abs), bits(whole.abs));
        prop_assert_eq!(bits(merged.total.sq), bits(whole.sq));
        for (t, s) in merged.tensors.iter().enumerate() {
            let one = regnorm::sums(&case.model[t]);
            prop_assert_eq!((bits(s.abs), bits(s.sq)), (bits(one.abs), bits(one.sq)));
        }
        // Norms (the per-tensor norms of a sharded model).
        let parts = (0..ranks).map(|r| exec.partial_sum_sq(&layout, &pieces(&case, &case.model, r))).collect();
        let norms: Vec<u64> = merge(&layout, parts).unwrap().tensors.iter().map(|s| bits(s.sq.sqrt())).collect();
        let expected: Vec<u64> = regnorm::tensor_norms(&case.model).into_iter().map(bits).collect();
        prop_assert_eq!(norms, expected);
    }

    #[test]
    fn sharded_penalty_and_gradient_are_the_single_process_bits(case in case(), lambda in 0.0f64..2.0, ratio in 0.0f64..=1.0) {
        let regs = (L1::new(lambda).unwrap(), L2::new(lambda).unwrap(), ElasticNet::new(lambda, ratio).unwrap());
        fn check<R: Regularizer>(r: &R, case: &Case) -> Result<(), TestCaseError> {
            let layout = Layout::of(&case.model);
            let grads: Vec<Vec<f32>> = case.model.iter().map(|t| t.iter().map(|v| v * 0.5 - 0.25).collect()).collect();
            // One process.
            let mut whole_grads = grads.clone();
            let whole = r.penalty_and_gradient_model(&case.model, &mut whole_grads).unwrap();
            prop_assert_eq!(bits(whole), bits(r.penalty_model(&case.model)));
            // Sharded: each rank adds into its own copies of its pieces.
            let mut sharded_grads = grads.clone();
            let mut parts = Vec::new();
            let mut plain = Vec::new();
            for rank in 0..case.ranks.len() {
                let ps = pieces(case, &case.model, rank);
                plain.push(r.penalty_partial(&layout, &ps));
                let mut gs: Vec<Vec<f32>> = case.ranks[rank].iter().map(|(t, rg)| grads[*t][rg.clone()].to_vec()).collect();
                parts.push(r.penalty_and_gradient_partial(&layout, &ps, &mut gs));
                for ((t, rg), g) in case.ranks[rank].iter().zip(gs) {
                    sharded_grads[*t][rg.clone()].copy_from_slice(&g);
                }
            }
            let p = r.penalty_of_sums(merge(&layout, parts).unwrap().total);
            let q = r.penalty_of_sums(merge(&layout, plain).unwrap().total);
            prop_assert_eq!(bits(p), bits(whole));
            prop_assert_eq!(bits(q), bits(whole));
            let same = sharded_grads.iter().flatten().zip(whole_grads.iter().flatten()).all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
            prop_assert!(same);
            Ok(())
        }
        check(&regs.0, &case)?;
        check(&regs.1, &case)?;
        check(&regs.2, &case)?;
    }

    #[test]
    fn sharded_clipping_is_the_single_process_clipping(case in case(), max_norm in 0.0f64..400.0) {
        let clip = ClipGradNorm::new(max_norm).unwrap();
        let layout = Layout::of(&case.model);
        let mut whole = case.model.clone();
        let total = clip.clip_model(&mut whole).unwrap();
        let mut sharded = case.model.clone();
        let parts = (0..case.ranks.len()).map(|r| clip.exec().partial_sum_sq(&layout, &pieces(&case, &case.model, r))).collect();
        let norm = merge(&layout, parts).unwrap().total.sq.sqrt();
        prop_assert_eq!(bits(norm), bits(total));
        for rank in &case.ranks {
            for (t, r) in rank {
                clip.clip_with_norm(norm, [&mut sharded[*t][r.clone()]]).unwrap();
            }
        }
        let same = sharded.iter().flatten().zip(whole.iter().flatten()).all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        prop_assert!(same);
    }
}

/// Every rank merges the same gathered partials, so every rank gets the
/// same result, whichever rank's own layout differs.
fn merge_on_every_rank(layouts: &[Layout<f32>], parts: &[Partial]) -> Result<regnorm::Sums, Error> {
    let results: Vec<_> = layouts
        .iter()
        .map(|l| Partial::merge(l, parts).map(|m| m.total))
        .collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    results[0]
}

#[test]
fn bad_layouts_give_every_rank_one_error() {
    let w = vec![1.0f32; 3 * UNIT + 5];
    let good = Layout::<f32>::new([w.len(), 10]);
    let small = [2.0f32; 10];
    let exec = Exec::new();
    let part = |layout: &Layout<f32>, ps: &[Piece<&[f32]>]| exec.partial_sums(layout, ps);

    // A rank with another tensor length: LayoutMismatch naming that rank.
    let other = Layout::<f32>::new([w.len(), 11]);
    let parts = [
        part(&good, &[Piece::new(0, 0, &w[..])]),
        part(&other, &[Piece::new(1, 0, &small[..])]),
    ];
    let e = merge_on_every_rank(&[good.clone(), other.clone()], &parts);
    assert_eq!(e, Err(Error::LayoutMismatch { part: 1 }));
    // Another element type, same lengths.
    let f64_layout = Layout::<f64>::new([w.len(), 10]);
    let parts = [
        part(
            &good,
            &[Piece::new(0, 0, &w[..]), Piece::new(1, 0, &small[..])],
        ),
        Partial::failed(&f64_layout, Error::InvalidStep { eta: -1.0 }),
    ];
    assert_eq!(Partial::merge(&good, &parts[..1]).map(|_| ()), Ok(()));
    // The disagreement about the layout comes first.
    assert_eq!(
        Partial::merge(&good, &parts),
        Err(Error::LayoutMismatch { part: 1 })
    );
    let ok64 = Exec::new().partial_sums::<f64, &[f64]>(&f64_layout, &[]);
    let mixed = [parts[0].clone(), ok64];
    assert_eq!(
        Partial::merge(&good, &mixed),
        Err(Error::LayoutMismatch { part: 1 })
    );

    // Overlap: rank 1 also holds super-chunk 1 of tensor 0.
    let parts = [
        part(
            &good,
            &[
                Piece::new(0, 0, &w[..2 * UNIT]),
                Piece::new(1, 0, &small[..]),
            ],
        ),
        part(&good, &[Piece::new(0, UNIT, &w[UNIT..])]),
    ];
    let e = merge_on_every_rank(&[good.clone(), good.clone()], &parts);
    assert_eq!(
        e,
        Err(Error::ShardOverlap {
            tensor: 0,
            offset: UNIT
        })
    );
    // Gap: nobody holds super-chunk 2 of tensor 0.
    let parts = [
        part(
            &good,
            &[
                Piece::new(0, 0, &w[..2 * UNIT]),
                Piece::new(1, 0, &small[..]),
            ],
        ),
        part(&good, &[Piece::new(0, 3 * UNIT, &w[3 * UNIT..])]),
    ];
    let e = merge_on_every_rank(&[good.clone(), good.clone()], &parts);
    assert_eq!(
        e,
        Err(Error::ShardGap {
            tensor: 0,
            offset: 2 * UNIT
        })
    );
    // Missing tensor.
    let parts = [part(&good, &[Piece::new(0, 0, &w[..])])];
    assert_eq!(
        Partial::merge(&good, &parts),
        Err(Error::ShardGap {
            tensor: 1,
            offset: 0
        })
    );
    // Misaligned piece: its rank records the error, every rank returns it.
    let parts = [
        part(
            &good,
            &[
                Piece::new(0, 0, &w[..UNIT + 1]),
                Piece::new(1, 0, &small[..]),
            ],
        ),
        part(&good, &[Piece::new(0, UNIT + 1, &w[UNIT + 1..])]),
    ];
    let misaligned = Error::ShardMisaligned {
        tensor: 0,
        start: 0,
        end: UNIT + 1,
        unit: UNIT,
    };
    assert_eq!(parts[0].error(), Some(misaligned));
    assert_eq!(
        merge_on_every_rank(&[good.clone(), good.clone()], &parts),
        Err(misaligned)
    );
    assert!(
        misaligned
            .to_string()
            .contains("multiple of 16384 elements")
    );
    // Out of range, unknown tensor.
    let p = part(&good, &[Piece::new(1, 0, &w[..11])]);
    assert!(matches!(
        p.error(),
        Some(Error::ShardOutOfRange {
            tensor: 1,
            start: 0,
            end: 11,
            tensor_len: 10
        })
    ));
    let p = part(&good, &[Piece::new(2, 0, &w[..1])]);
    assert_eq!(
        p.error(),
        Some(Error::UnknownTensor {
            tensor: 2,
            tensors: 2
        })
    );
    // A split offset that is not a unit multiple.
    assert!(good.check(0, 100..UNIT).is_err());
    assert!(good.check(0, 3 * UNIT..3 * UNIT + 5).is_ok());
    assert!(good.check(1, 10..10).is_ok());
}

#[test]
fn a_local_error_is_everyones_and_nothing_is_written() {
    let layout = Layout::<f32>::new([2 * UNIT]);
    let w = vec![1.0f32; 2 * UNIT];
    let l1 = L1::new(0.5).unwrap();
    let mut g0 = vec![0.0f32; UNIT];
    let mut g1 = vec![0.0f32; UNIT - 1]; // does not pair with its piece
    let p0 = l1.penalty_and_gradient_partial(&layout, &[Piece::new(0, 0, &w[..UNIT])], [&mut g0]);
    let p1 =
        l1.penalty_and_gradient_partial(&layout, &[Piece::new(0, UNIT, &w[UNIT..])], [&mut g1]);
    let e = Error::LengthMismatch {
        index: 0,
        params: UNIT,
        grads: UNIT - 1,
    };
    assert_eq!(Partial::merge(&layout, &[p0.clone(), p1.clone()]), Err(e));
    assert!(g1.iter().all(|&g| g == 0.0));
    // A bad λ on one rank travels as a failed partial.
    let bad = L1::new(-1.0).map(|r| r.penalty_partial(&layout, &[Piece::new(0, UNIT, &w[UNIT..])]));
    let p1 = bad.unwrap_or_else(|e| Partial::failed(&layout, e));
    assert_eq!(
        Partial::merge(&layout, &[p0, p1]),
        Err(Error::InvalidLambda { lambda: -1.0 })
    );
    // Piece/grad counts that differ.
    let p = l1.penalty_and_gradient_partial::<f32, [&mut [f32]; 0]>(
        &layout,
        &[Piece::new(0, 0, &w[..])],
        [],
    );
    assert_eq!(
        p.error(),
        Some(Error::TensorCountMismatch {
            params: 1,
            grads: 0
        })
    );
}

#[test]
fn every_error_survives_the_encoding() {
    let layout = Layout::<f32>::new([1]);
    let errors = [
        Error::InvalidLambda { lambda: -0.5 },
        Error::InvalidL1Ratio { l1_ratio: f64::NAN },
        Error::TierUnavailable {
            tier: regnorm::Tier::Avx512,
        },
        Error::InvalidStep { eta: f64::INFINITY },
        Error::InvalidMaxNorm { max_norm: -1.0 },
        Error::TensorCountMismatch {
            params: 3,
            grads: 4,
        },
        Error::LengthMismatch {
            index: 1,
            params: 2,
            grads: 3,
        },
        Error::NonFiniteNorm {
            total: f64::INFINITY,
        },
        Error::UnknownTensor {
            tensor: 9,
            tensors: 2,
        },
        Error::ShardOutOfRange {
            tensor: 1,
            start: 2,
            end: 3,
            tensor_len: 2,
        },
        Error::ShardMisaligned {
            tensor: 1,
            start: 2,
            end: 3,
            unit: UNIT,
        },
        Error::ShardOverlap {
            tensor: 4,
            offset: UNIT,
        },
        Error::ShardGap {
            tensor: 5,
            offset: 0,
        },
        Error::LayoutMismatch { part: 3 },
        Error::MalformedPartial,
        Error::InvalidParts { parts: 0 },
        Error::CallMismatch { part: 1 },
        Error::RankPanicked { part: 2 },
    ];
    for e in errors {
        let back = Partial::decode(&Partial::failed(&layout, e).encode()).unwrap();
        assert_eq!(format!("{:?}", back.error()), format!("{:?}", Some(e)));
    }
}

#[test]
fn malformed_words_are_refused() {
    let layout = Layout::<f32>::new([3 * UNIT]);
    let w = vec![1.0f32; 3 * UNIT];
    let good = Exec::new().partial_sums(&layout, &[Piece::new(0, UNIT, &w[UNIT..])]);
    let words = good.encode();
    assert_eq!(Partial::decode(&words).unwrap(), good);
    let bad = Err(Error::MalformedPartial);
    assert_eq!(Partial::decode(&words[..words.len() - 1]), bad);
    assert_eq!(Partial::decode(&[]), bad);
    let mut magic = words.clone();
    magic[0] ^= 1;
    assert_eq!(Partial::decode(&magic), bad);
    let mut unknown = words.clone();
    unknown[2] = 99;
    assert_eq!(Partial::decode(&unknown), bad);
    let mut zero_chunks = words.clone();
    zero_chunks[8 + 2] = 0;
    assert_eq!(Partial::decode(&zero_chunks), bad);
    // Subtrees that tile the tensor but are not the canonical tree's.
    let first = Exec::new().partial_sums(&layout, &[Piece::new(0, 0, &w[..UNIT])]);
    let mut twisted = words.clone();
    // Node (1, 1) and (2, 1) become one node (1, 2), which the tree of 3
    // super-chunks ([0, 1], [2]) does not have.
    assert_eq!(good.nodes().len(), 2);
    twisted[7] = 1;
    twisted[8 + 2] = 2;
    twisted.truncate(8 + 5);
    let twisted = Partial::decode(&twisted).unwrap();
    assert_eq!(
        Partial::merge(&layout, &[first, twisted]),
        Err(Error::MalformedPartial)
    );
    // Tensor index past the layout.
    let mut past = words;
    past[8] = 7;
    let past = Partial::decode(&past).unwrap();
    assert_eq!(
        Partial::merge(&layout, &[past]),
        Err(Error::MalformedPartial)
    );
}

#[test]
fn split_bounds_are_whole_units_and_cover_the_tensor() {
    for &len in &[0usize, 1, UNIT - 1, UNIT, UNIT + 1, 5 * UNIT + 7, 64 * UNIT] {
        let layout = Layout::<f32>::new([len]);
        for parts in 1..=9 {
            let b = layout.split(0, parts).unwrap();
            assert_eq!(b.len(), parts);
            assert_eq!(b[0].start, 0);
            assert_eq!(b[parts - 1].end, len);
            for (i, r) in b.iter().enumerate() {
                layout.check(0, r.clone()).unwrap();
                if i > 0 {
                    assert_eq!(b[i - 1].end, r.start);
                }
                assert!(r.len() <= len.div_ceil(UNIT).div_ceil(parts) * UNIT);
            }
        }
    }
    let f64_layout = Layout::<f64>::new([10_000]);
    assert_eq!(
        f64_layout.split(0, 2).unwrap(),
        vec![0..8_192, 8_192..10_000]
    );
    assert_eq!(
        f64_layout.split(0, 3).unwrap(),
        vec![0..0, 0..8_192, 8_192..10_000]
    );
    assert_eq!(f64_layout.unit(), 8_192);
    assert_eq!(
        Layout::<f32>::new([1]).split(1, 2),
        Err(Error::UnknownTensor {
            tensor: 1,
            tensors: 1
        })
    );
    assert_eq!(
        Layout::<f32>::new([1]).split(0, 0),
        Err(Error::InvalidParts { parts: 0 })
    );
}

#[test]
fn f64_models_merge_to_their_bits() {
    let w: Vec<f64> = (0..50_000).map(|i| (i as f64 * 0.37).cos()).collect();
    let layout = Layout::<f64>::new([w.len()]);
    let parts: Vec<Partial> = layout
        .split(0, 4)
        .unwrap()
        .into_iter()
        .map(|r| Exec::new().partial_sums(&layout, &[Piece::new(0, r.start, &w[r])]))
        .collect();
    assert_eq!(
        Partial::merge(&layout, &parts).unwrap().total,
        regnorm::sums(&w)
    );
}

#[cfg(feature = "half")]
#[test]
fn half_models_merge_to_their_bits() {
    let w: Vec<f64> = (0..50_000).map(|i| (i as f64 * 0.37).cos()).collect();
    let h: Vec<half::bf16> = w.iter().map(|&v| half::bf16::from_f64(v)).collect();
    let layout = Layout::<half::bf16>::new([h.len()]);
    let parts: Vec<Partial> = layout
        .split(0, 3)
        .unwrap()
        .into_iter()
        .map(|r| Exec::new().partial_sums(&layout, &[Piece::new(0, r.start, &h[r])]))
        .collect();
    assert_eq!(
        Partial::merge(&layout, &parts).unwrap().total,
        regnorm::sums(&h)
    );
}
