//! Hostile callers: containers whose `AsRef`/`AsMut` change their answer
//! between calls or panic midway. Every model-level call must call each of
//! them once, check the slices it got, and never write outside them.
//!
//! The gradients live inside a larger buffer, of which a container hands out
//! only the front: a write past the slice it returned shows up as a changed
//! sentinel in the rest of the buffer, instead of corrupting the heap.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use regnorm::shard::{Layout, Piece};
use regnorm::{ClipGradNorm, ElasticNet, Error, L1, L2, Regularizer, WeightDecay};

const BIG: usize = 4096;
const SENTINEL: f32 = 12345.0;

/// A parameter tensor whose `as_ref` returns `first` elements on its first
/// call and `later` (the whole buffer unless set) on every later one; it
/// counts its calls.
struct Shifty<'a> {
    data: &'a [f32],
    first: usize,
    later: usize,
    calls: Cell<usize>,
}

impl<'a> Shifty<'a> {
    fn new(data: &'a [f32], first: usize) -> Self {
        Shifty {
            data,
            first,
            later: data.len(),
            calls: Cell::new(0),
        }
    }

    fn later(self, later: usize) -> Self {
        Shifty { later, ..self }
    }
}

impl AsRef<[f32]> for Shifty<'_> {
    fn as_ref(&self) -> &[f32] {
        let n = self.calls.get();
        self.calls.set(n + 1);
        &self.data[..if n == 0 { self.first } else { self.later }]
    }
}

/// A gradient tensor that answers `as_mut` with `first` elements, then
/// with the whole buffer.
struct ShiftyMut<'a> {
    data: &'a mut [f32],
    first: usize,
    calls: usize,
}

impl AsMut<[f32]> for ShiftyMut<'_> {
    fn as_mut(&mut self) -> &mut [f32] {
        self.calls += 1;
        if self.calls == 1 {
            &mut self.data[..self.first]
        } else {
            self.data
        }
    }
}

/// A tensor whose `as_ref`/`as_mut` panics.
struct Panicky;

impl AsRef<[f32]> for Panicky {
    fn as_ref(&self) -> &[f32] {
        panic!("as_ref refuses")
    }
}

impl AsMut<[f32]> for Panicky {
    fn as_mut(&mut self) -> &mut [f32] {
        panic!("as_mut refuses")
    }
}

fn weights() -> Vec<f32> {
    (0..BIG).map(|i| (i as f32 - 2000.0) * 1e-3).collect()
}

/// A buffer of `BIG` sentinels, of which only `[..1]` is handed out.
fn sentinels() -> Vec<f32> {
    vec![SENTINEL; BIG]
}

fn untouched_past(buf: &[f32], from: usize) -> bool {
    buf[from..].iter().all(|&v| v == SENTINEL)
}

type GradCall = fn(&Shifty<'_>, &mut [f32]) -> Result<(), Error>;

/// Every model-level call that pairs parameters with gradients.
fn gradient_calls() -> Vec<(&'static str, GradCall)> {
    vec![
        ("L2::add_gradient_model", |p, g| {
            L2::new(0.1).unwrap().add_gradient_model([p], [g])
        }),
        ("L1::add_gradient_model", |p, g| {
            L1::new(0.1).unwrap().add_gradient_model([p], [g])
        }),
        ("ElasticNet::add_gradient_model", |p, g| {
            ElasticNet::new(0.1, 0.5)
                .unwrap()
                .add_gradient_model([p], [g])
        }),
        ("L1::penalty_and_gradient_model", |p, g| {
            L1::new(0.1)
                .unwrap()
                .penalty_and_gradient_model([p], [g])
                .map(drop)
        }),
        ("L2::penalty_and_gradient_model", |p, g| {
            L2::new(0.1)
                .unwrap()
                .penalty_and_gradient_model([p], [g])
                .map(drop)
        }),
    ]
}

#[test]
fn a_parameter_that_grows_after_its_first_as_ref_never_writes_past_the_gradient() {
    let w = weights();
    for (name, call) in gradient_calls() {
        let mut buf = sentinels();
        let p = Shifty::new(&w, 1);
        let result = call(&p, &mut buf[..1]);
        assert!(untouched_past(&buf, 1), "{name} wrote past the gradient");
        assert_eq!(p.calls.get(), 1, "{name}: as_ref called more than once");
        // One element of one tensor, consistently: the gradient of w[0].
        assert!(result.is_ok(), "{name}: {result:?}");
        assert_ne!(buf[0], SENTINEL, "{name} did not write its gradient");
    }
}

#[test]
fn a_parameter_that_shrinks_after_its_first_as_ref_is_consistent() {
    let w = weights();
    for (name, call) in gradient_calls() {
        let mut buf = sentinels();
        // All of it first, one element on every later call.
        let p = Shifty::new(&w, BIG).later(1);
        let result = call(&p, &mut buf[..]);
        assert!(result.is_ok(), "{name}: {result:?}");
        assert_eq!(p.calls.get(), 1, "{name}");
        // The same as an honest container of the first answer.
        let mut want = sentinels();
        call(&Shifty::new(&w, BIG), &mut want).unwrap();
        assert_eq!(buf, want, "{name}");
    }
}

#[test]
fn a_gradient_that_grows_after_its_first_as_mut_is_checked_against_what_it_returned() {
    let w = weights();
    let l2 = L2::new(0.1).unwrap();
    // The gradient says 1 element on the first call; the parameter has 1.
    let mut buf = sentinels();
    let g = ShiftyMut {
        data: &mut buf,
        first: 1,
        calls: 0,
    };
    let mut grads = [g];
    l2.add_gradient_model([&w[..1]], grads.iter_mut()).unwrap();
    assert_eq!(grads[0].calls, 1);
    assert!(untouched_past(&buf, 1));
    // The parameter has all of them: a length mismatch, nothing written.
    let mut buf = sentinels();
    let g = ShiftyMut {
        data: &mut buf,
        first: 1,
        calls: 0,
    };
    let err = l2.add_gradient_model([&w[..]], [g]).unwrap_err();
    assert!(
        matches!(err, Error::LengthMismatch { index: 0, .. }),
        "{err}"
    );
    assert!(untouched_past(&buf, 0));
}

#[test]
fn a_panicking_container_panics_before_anything_is_written() {
    let w = weights();
    let l1 = L1::new(0.1).unwrap();
    // The second parameter panics: the first gradient is not written.
    let mut g0 = vec![SENTINEL; 8];
    let mut g1 = vec![SENTINEL; 8];
    let params: [&dyn AsRef<[f32]>; 2] = [&&w[..8], &Panicky];
    struct Dyn<'a>(&'a dyn AsRef<[f32]>);
    impl AsRef<[f32]> for Dyn<'_> {
        fn as_ref(&self) -> &[f32] {
            self.0.as_ref()
        }
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        l1.add_gradient_model(params.map(Dyn), [&mut g0, &mut g1])
    }));
    assert!(r.is_err());
    assert!(untouched_past(&g0, 0) && untouched_past(&g1, 0));

    // The second gradient panics: nothing is written either.
    let mut g0 = vec![SENTINEL; 8];
    let r = catch_unwind(AssertUnwindSafe(|| {
        enum G<'a> {
            Ok(&'a mut Vec<f32>),
            Bad(Panicky),
        }
        impl AsMut<[f32]> for G<'_> {
            fn as_mut(&mut self) -> &mut [f32] {
                match self {
                    G::Ok(v) => v,
                    G::Bad(p) => p.as_mut(),
                }
            }
        }
        l1.penalty_and_gradient_model([&w[..8], &w[8..16]], [G::Ok(&mut g0), G::Bad(Panicky)])
    }));
    assert!(r.is_err());
    assert!(untouched_past(&g0, 0));

    // In-place calls over one list of tensors: a panic before any write.
    for call in [
        |t: [&mut dyn AsMut<[f32]>; 2]| {
            L1::new(0.1)
                .unwrap()
                .prox_step_model(t.map(MutDyn), 0.5)
                .map(drop)
        },
        |t: [&mut dyn AsMut<[f32]>; 2]| {
            WeightDecay::new(0.1)
                .unwrap()
                .apply_model(t.map(MutDyn), 0.5)
        },
        |t: [&mut dyn AsMut<[f32]>; 2]| {
            ClipGradNorm::new(1e-3)
                .unwrap()
                .clip_model(t.map(MutDyn))
                .map(drop)
        },
    ] {
        let mut a = vec![SENTINEL; 8];
        let mut bad = Panicky;
        let r = catch_unwind(AssertUnwindSafe(|| call([&mut a, &mut bad])));
        assert!(r.is_err());
        assert!(untouched_past(&a, 0));
    }
}

struct MutDyn<'a>(&'a mut dyn AsMut<[f32]>);
impl AsMut<[f32]> for MutDyn<'_> {
    fn as_mut(&mut self) -> &mut [f32] {
        self.0.as_mut()
    }
}

/// An iterator whose `size_hint` lies wildly: collecting it must not
/// trust the hint.
struct LyingHint<I>(I);
impl<I: Iterator> Iterator for LyingHint<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, Some(0))
    }
}

#[test]
fn iterators_with_lying_size_hints_are_read_as_they_are() {
    let a = weights();
    let b: Vec<f32> = a.iter().map(|v| v * 2.0).collect();
    let l2 = L2::new(0.5).unwrap();
    let want = l2.penalty_model([&a, &b]);
    assert_eq!(l2.penalty_model(LyingHint([&a, &b].into_iter())), want);
    let (mut ga, mut gb) = (vec![0.0f32; BIG], vec![0.0f32; BIG]);
    let p = l2
        .penalty_and_gradient_model(
            LyingHint([&a, &b].into_iter()),
            LyingHint([&mut ga, &mut gb].into_iter()),
        )
        .unwrap();
    assert_eq!(p, want);
    let mut w = a.clone();
    assert!(
        WeightDecay::new(0.1)
            .unwrap()
            .apply_model(LyingHint([&mut w].into_iter()), 0.5)
            .is_ok()
    );
}

#[test]
fn shard_pieces_are_read_once() {
    let w = weights();
    let layout = Layout::<f32>::new([BIG]);
    let l1 = L1::new(0.1).unwrap();
    // A gradient piece of one element paired with a one-element parameter
    // piece: the gradient must not be written past its slice.
    let mut buf = sentinels();
    let piece = Piece {
        tensor: 0,
        offset: 0,
        data: &w[..1],
    };
    let g = ShiftyMut {
        data: &mut buf,
        first: 1,
        calls: 0,
    };
    let _ = l1.penalty_and_gradient_partial(&layout, &[piece], [g]);
    assert!(untouched_past(&buf, 1));
}

#[test]
fn read_only_model_calls_ask_each_container_once() {
    let w = weights();
    let l2 = L2::new(0.5).unwrap();
    let want = l2.penalty_model([&w[..7], &w[..]]);
    let a = Shifty::new(&w, 7);
    let b = Shifty::new(&w, BIG).later(3);
    assert_eq!(l2.penalty_model([&a, &b]), want);
    assert_eq!((a.calls.get(), b.calls.get()), (1, 1));

    let (a, b) = (Shifty::new(&w, 7), Shifty::new(&w, BIG).later(3));
    let norms = regnorm::tensor_norms([&a, &b]);
    assert_eq!(norms, regnorm::tensor_norms([&w[..7], &w[..]]));
    assert_eq!((a.calls.get(), b.calls.get()), (1, 1));

    let (a, b) = (Shifty::new(&w, 7), Shifty::new(&w, BIG).later(3));
    let sums = regnorm::Exec::new().model_sums([&a, &b]);
    assert_eq!(sums, regnorm::Exec::new().model_sums([&w[..7], &w[..]]));
    assert_eq!((a.calls.get(), b.calls.get()), (1, 1));

    let a = Shifty::new(&w, 7).later(9);
    assert_eq!(Layout::<f32>::of([&a]), Layout::<f32>::new([7]));
}

#[test]
fn sizes_near_usize_max_are_errors() {
    let layout = Layout::<f32>::new([BIG, usize::MAX]);
    for parts in [usize::MAX, usize::MAX / 2, 1 << 60] {
        assert!(matches!(
            layout.split(0, parts),
            Err(Error::InvalidParts { .. })
        ));
    }
    let w = weights();
    for offset in [usize::MAX, usize::MAX - 1, usize::MAX - BIG + 1] {
        let piece = Piece::new(1, offset, &w[..]);
        let part = regnorm::Exec::new().partial_sums(&layout, &[piece]);
        assert!(part.error().is_some(), "offset {offset}");
    }
}
