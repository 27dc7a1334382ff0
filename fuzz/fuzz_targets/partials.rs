//! Sharded sums (`regnorm::shard`): random `f64` models cut at random valid
//! bounds over random ranks merge to the single-process bits; a partial
//! whose words were corrupted in transit, or arbitrary words, never panic
//! the decoder or the merge (an error, or sums of a layout that still
//! checks out).
#![no_main]

mod common;

use arbitrary::Arbitrary;
use common::*;
use libfuzzer_sys::fuzz_target;
use regnorm::Exec;
use regnorm::shard::{Layout, Partial, Piece};

#[derive(Arbitrary, Debug)]
struct Input {
    /// Tensor lengths (in 1/16 units, so that tensors span 0..=16 units).
    lens: Vec<u8>,
    values: Vec<u64>,
    /// Cut points (in units) and the rank of each piece.
    cuts: Vec<u8>,
    ranks: u8,
    /// Corruption: which word of which partial, xor with what.
    corrupt: Option<(u16, u16, u64)>,
    words: Vec<u64>,
    parallel: bool,
}

const UNIT: usize = 8_192;

fuzz_target!(|input: Input| {
    let lens: Vec<usize> = input.lens.iter().take(5).map(|&l| usize::from(l) * UNIT / 16).collect();
    let layout = Layout::<f64>::new(lens.iter().copied());
    // Arbitrary words: decode, then merge, must not panic.
    if let Ok(p) = Partial::decode(&input.words) {
        let _ = Partial::merge(&layout, &[p]);
    }
    let values = f64s(&input.values);
    let model: Vec<Vec<f64>> = lens.iter().map(|&n| if values.is_empty() { vec![0.5; n] } else { tile(&values, n)[..n].to_vec() }).collect();
    let ranks = usize::from(input.ranks % 5) + 1;
    let mut shares: Vec<Vec<(usize, std::ops::Range<usize>)>> = vec![Vec::new(); ranks];
    let mut cut = input.cuts.iter().copied().cycle();
    for (t, &n) in lens.iter().enumerate() {
        let units = n.div_ceil(UNIT);
        let mut start = 0;
        loop {
            let step = usize::from(cut.next().unwrap_or(1));
            let end = (start + 1 + step % 4).min(units);
            let rank = step % ranks;
            shares[rank].push((t, start * UNIT..(end * UNIT).min(n)));
            if end >= units {
                break;
            }
            start = end;
        }
    }
    let exec = Exec::new().with_parallel(input.parallel);
    let mut words: Vec<Vec<u64>> = shares
        .iter()
        .map(|share| {
            let pieces: Vec<Piece<&[f64]>> = share.iter().map(|(t, r)| Piece::new(*t, r.start, &model[*t][r.clone()])).collect();
            exec.partial_sums(&layout, &pieces).encode()
        })
        .collect();
    let whole = Exec::sequential().model_sums(&model);
    let merged = |words: &[Vec<u64>]| -> Option<_> {
        let parts: Result<Vec<Partial>, _> = words.iter().map(|w| Partial::decode(w)).collect();
        Partial::merge(&layout, &parts.ok()?).ok()
    };
    let m = merged(&words).expect("a valid layout merges");
    assert_eq!(m.total.abs.to_bits(), whole.abs.to_bits());
    assert_eq!(m.total.sq.to_bits(), whole.sq.to_bits());
    for (t, s) in m.tensors.iter().enumerate() {
        let one = Exec::sequential().sums(&model[t]);
        assert_eq!((s.abs.to_bits(), s.sq.to_bits()), (one.abs.to_bits(), one.sq.to_bits()));
    }
    if let Some((which, at, xor)) = input.corrupt {
        let w = &mut words[usize::from(which) % ranks];
        let at = usize::from(at) % w.len();
        w[at] ^= xor;
        let _ = merged(&words);
    }
});
