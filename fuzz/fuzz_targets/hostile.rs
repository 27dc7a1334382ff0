//! Hostile containers: a model whose tensors' `as_ref`/`as_mut` answer with
//! a different length on every call (a script of lengths from the input)
//! and whose iterators lie in `size_hint`. Every model-level call must ask
//! each container once, never write outside the slice it was given (each
//! slice is the front of a larger buffer whose tail is checked), and return
//! either an error (nothing written) or the result that honest containers
//! of the first answers give.
#![no_main]

use std::cell::Cell;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use regnorm::{ClipGradNorm, ElasticNet, Regularizer, WeightDecay};

const BUF: usize = 300;
const SENTINEL: f32 = 7777.0;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Per tensor: the lengths its parameter and gradient answer with, call
    /// by call (cycled).
    tensors: Vec<([u8; 3], [u8; 3])>,
    lambda: u8,
    ratio: u8,
    which: u8,
}

struct Param<'a> {
    data: &'a [f32],
    lens: [u8; 3],
    calls: Cell<usize>,
}

impl AsRef<[f32]> for Param<'_> {
    fn as_ref(&self) -> &[f32] {
        let n = self.calls.get();
        self.calls.set(n + 1);
        &self.data[..usize::from(self.lens[n % 3]).min(self.data.len())]
    }
}

struct Grad<'a> {
    data: &'a mut [f32],
    lens: [u8; 3],
    calls: usize,
}

impl AsMut<[f32]> for Grad<'_> {
    fn as_mut(&mut self) -> &mut [f32] {
        let n = self.calls;
        self.calls += 1;
        let len = usize::from(self.lens[n % 3]).min(self.data.len());
        &mut self.data[..len]
    }
}

/// An iterator whose `size_hint` lies.
struct Lying<I>(I);
impl<I: Iterator> Iterator for Lying<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, Some(1))
    }
}

fuzz_target!(|input: Input| {
    let tensors = &input.tensors[..input.tensors.len().min(8)];
    let w: Vec<f32> = (0..BUF).map(|i| (i as f32 - 150.0) * 0.01).collect();
    let lambda = f64::from(input.lambda) * 0.01;
    let ratio = f64::from(input.ratio % 5) / 4.0;
    let en = ElasticNet::new(lambda, ratio).unwrap();
    let mut bufs: Vec<Vec<f32>> = tensors.iter().map(|_| vec![SENTINEL; BUF]).collect();
    let params: Vec<Param> = tensors
        .iter()
        .map(|(p, _)| Param {
            data: &w,
            lens: *p,
            calls: Cell::new(0),
        })
        .collect();
    // What honest containers of the first answers give.
    let first_p: Vec<&[f32]> = tensors.iter().map(|(p, _)| &w[..usize::from(p[0])]).collect();
    let first_g: Vec<usize> = tensors.iter().map(|(_, g)| usize::from(g[0])).collect();
    let mut want: Vec<Vec<f32>> = first_g.iter().map(|&n| vec![SENTINEL; n]).collect();
    let honest = match input.which % 4 {
        0 => en.add_gradient_model(&first_p, &mut want).map(|()| 0.0),
        1 => en.penalty_and_gradient_model(&first_p, &mut want),
        2 => ClipGradNorm::new(0.5).unwrap().clip_model(&mut want),
        _ => WeightDecay::new(0.1).unwrap().apply_model(&mut want, 0.5).map(|()| 0.0),
    };
    let grads = bufs.iter_mut().zip(tensors).map(|(b, (_, g))| Grad {
        data: b,
        lens: *g,
        calls: 0,
    });
    let got = match input.which % 4 {
        0 => en
            .add_gradient_model(Lying(params.iter()), Lying(grads))
            .map(|()| 0.0),
        1 => en.penalty_and_gradient_model(Lying(params.iter()), Lying(grads)),
        2 => ClipGradNorm::new(0.5).unwrap().clip_model(Lying(grads)),
        _ => WeightDecay::new(0.1)
            .unwrap()
            .apply_model(Lying(grads), 0.5)
            .map(|()| 0.0),
    };
    assert_eq!(
        format!("{got:?}"),
        format!("{honest:?}"),
        "a lying container changed the result"
    );
    for (p, _) in params.iter().zip(tensors) {
        assert!(p.calls.get() <= 1, "as_ref called {} times", p.calls.get());
    }
    for (b, (n, want)) in bufs.iter().zip(first_g.iter().zip(&want)) {
        assert!(b[*n..].iter().all(|&v| v == SENTINEL), "wrote past the slice");
        if got.is_ok() {
            assert_eq!(
                b[..*n].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        } else {
            assert!(b.iter().all(|&v| v == SENTINEL), "an error wrote");
        }
    }
});
