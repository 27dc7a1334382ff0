//! The passes the kernels make over memory.
//!
//! Each pass says what happens to the elements of one row, twice: once on
//! SIMD lanes ([`Rows::row`], run by every vector tier through the one
//! kernel body) and once per element ([`Rows::element`], run by the scalar
//! reference). The two are written side by side with the same operations in
//! the same order, which is what makes the tiers agree bit for bit. Each
//! returns the values the pass reduces (its input for [`Read`] and
//! [`AddGradient`], its output for [`Prox`] and [`Scale`]).

use super::lanes::{Float, Group, sign, where_positive};
use crate::element::{Element, Lane};
use crate::error::Error;

/// Which optional terms of its formula a pass has, as bits ([`FIRST`],
/// [`SECOND`]): what [`Rows::terms`] returns.
pub(crate) type Terms = u8;
/// The first optional term of a pass ([`Coefficients::first`]).
pub(crate) const FIRST: Terms = 1;
/// The second optional term of a pass ([`Coefficients::second`]).
pub(crate) const SECOND: Terms = 2;

/// A pass's two optional coefficients, and which of them it has.
///
/// A row reads them through the row's `terms` argument rather than the
/// stored bits: the kernel body passes [`Rows::terms`] there as a constant
/// in its row loop (one loop per combination), so a row tests nothing.
#[derive(Clone, Copy, Debug)]
pub struct Coefficients<F> {
    terms: Terms,
    first: F,
    second: F,
}

impl<F: Float> Coefficients<F> {
    pub(crate) fn new(first: Option<F>, second: Option<F>) -> Self {
        Coefficients {
            terms: if first.is_some() { FIRST } else { 0 }
                | if second.is_some() { SECOND } else { 0 },
            first: first.unwrap_or(F::ZERO),
            second: second.unwrap_or(F::ZERO),
        }
    }

    /// The terms present.
    #[inline(always)]
    pub(crate) fn terms(self) -> Terms {
        self.terms
    }

    /// The first coefficient if `terms` (the pass's own) has it.
    #[inline(always)]
    pub(crate) fn first(self, terms: Terms) -> Option<F> {
        (terms & FIRST != 0).then_some(self.first)
    }

    /// The second coefficient if `terms` (the pass's own) has it.
    #[inline(always)]
    pub(crate) fn second(self, terms: Terms) -> Option<F> {
        (terms & SECOND != 0).then_some(self.second)
    }
}

/// One pass over one tensor (and its gradient, for [`AddGradient`]).
pub(crate) trait Rows: Send + Sized {
    type Elem: Element;
    /// Whether the pass counts the zeros among the values it returns.
    const COUNTS_ZEROS: bool = false;

    /// The pass reborrowed, for the kernel body to keep in its own locals:
    /// there the compiler holds its pointers and coefficients in registers
    /// for the whole call. (Reached through `&mut self`, they were reloaded
    /// after every row that stores, since the compiler cannot tell that the
    /// stores do not write the pass itself.)
    type Local<'b>: Rows<Elem = Self::Elem>
    where
        Self: 'b;

    /// Reborrows the pass as its [`Local`](Rows::Local).
    fn local(&mut self) -> Self::Local<'_>;

    /// The number of elements.
    fn len(&self) -> usize;

    /// The bytes the pass reads and writes: its cost, for scheduling.
    fn bytes(&self) -> usize;

    /// The pass over elements `..mid` and the pass over `mid..`.
    fn split_at(self, mid: usize) -> (Self, Self);

    /// The address whose alignment the kernel body frames its rows by: the
    /// slice the pass writes, or reads if it writes none.
    fn frame(&self) -> usize;

    /// The optional terms the pass has ([`Coefficients`]); none by default.
    #[inline(always)]
    fn terms(&self) -> Terms {
        0
    }

    /// Processes the elements `start + lo .. start + hi` (lanes `lo..hi` of
    /// the row that starts at element `start`, which may be negative for
    /// the first row) and returns the values to reduce, zeros in the other
    /// lanes. `terms` is [`Rows::terms`].
    ///
    /// # Safety
    /// `0 <= start + lo`, `lo <= hi <= G::LANES`, `start + hi <= self.len()`,
    /// and the CPU supports the tier of `G`.
    unsafe fn row<G: Group<Elem = Self::Elem>>(
        &mut self,
        start: isize,
        lo: usize,
        hi: usize,
        terms: Terms,
    ) -> G;

    /// Hints that the rows from element `start` on will be read soon.
    fn prefetch<G: Group<Elem = Self::Elem>>(&self, start: isize);

    /// Processes element `i` and returns the value to reduce.
    fn element(&mut self, i: usize) -> Lane<Self::Elem>;
}

/// Reads a tensor: the pass behind `sum_abs`, `sum_sq` and penalties.
pub(crate) struct Read<'a, T>(pub &'a [T]);

impl<T: Element> Rows for Read<'_, T> {
    type Elem = T;
    type Local<'b>
        = Read<'b, T>
    where
        Self: 'b;

    fn local(&mut self) -> Self::Local<'_> {
        Read(self.0)
    }

    fn len(&self) -> usize {
        self.0.len()
    }
    fn bytes(&self) -> usize {
        size_of_val(self.0)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a, b) = self.0.split_at(mid);
        (Read(a), Read(b))
    }
    fn frame(&self) -> usize {
        self.0.as_ptr().addr()
    }
    #[inline(always)]
    fn prefetch<G: Group<Elem = T>>(&self, start: isize) {
        G::prefetch(self.0.as_ptr().wrapping_offset(start));
    }
    #[inline(always)]
    unsafe fn row<G: Group<Elem = T>>(
        &mut self,
        start: isize,
        lo: usize,
        hi: usize,
        _: Terms,
    ) -> G {
        // SAFETY: lanes lo..hi of the row are inside the slice (caller);
        // features: the caller.
        unsafe { G::load(self.0.as_ptr().wrapping_offset(start), lo, hi) }
    }
    #[inline(always)]
    fn element(&mut self, i: usize) -> Lane<T> {
        self.0[i].to_lane()
    }
}

/// `g ← fma(b, w, g + a·sign(w))` (the terms present), reducing `w`: the
/// gradient of `a·Σ|w| + (b/2)·Σw²` added into `g`. Both terms are fused
/// multiply-adds: `a·sign(w)` is exact (`±a` or `±0`), so the L1 term is
/// the plain `g + a·sign(w)`; the L2 term rounds once.
///
/// `w` and `g` have one length: [`AddGradient::new`] checks it, and the
/// fields are private so that nothing else can build one (its rows read
/// and write both slices at the same offsets).
pub struct AddGradient<'a, T: Element> {
    w: &'a [T],
    g: &'a mut [T],
    /// `a`, the coefficient of `sign(w)` (first, if the L1 term is present),
    /// and `b`, the coefficient of `w` (second, if the L2 term is present).
    k: Coefficients<Lane<T>>,
}

impl<'a, T: Element> AddGradient<'a, T> {
    /// The pass over `w` and `g`, or [`Error::LengthMismatch`] (naming
    /// tensor 0) if their lengths differ.
    pub(crate) fn new(w: &'a [T], g: &'a mut [T], k: Coefficients<Lane<T>>) -> Result<Self, Error> {
        if w.len() != g.len() {
            return Err(Error::LengthMismatch {
                index: 0,
                params: w.len(),
                grads: g.len(),
            });
        }
        Ok(AddGradient { w, g, k })
    }
}

impl<T: Element> Rows for AddGradient<'_, T> {
    type Elem = T;
    type Local<'b>
        = AddGradient<'b, T>
    where
        Self: 'b;

    fn local(&mut self) -> Self::Local<'_> {
        AddGradient {
            w: self.w,
            g: self.g,
            k: self.k,
        }
    }

    fn len(&self) -> usize {
        self.w.len()
    }
    fn bytes(&self) -> usize {
        3 * size_of_val(self.w)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let k = self.k;
        let (w0, w1) = self.w.split_at(mid);
        let (g0, g1) = self.g.split_at_mut(mid);
        (
            AddGradient { w: w0, g: g0, k },
            AddGradient { w: w1, g: g1, k },
        )
    }
    fn frame(&self) -> usize {
        self.g.as_ptr().addr()
    }
    #[inline(always)]
    fn terms(&self) -> Terms {
        self.k.terms()
    }
    #[inline(always)]
    fn prefetch<G: Group<Elem = T>>(&self, start: isize) {
        G::prefetch(self.w.as_ptr().wrapping_offset(start));
        G::prefetch(self.g.as_ptr().wrapping_offset(start));
    }
    #[inline(always)]
    unsafe fn row<G: Group<Elem = T>>(
        &mut self,
        start: isize,
        lo: usize,
        hi: usize,
        terms: Terms,
    ) -> G {
        let (w, g) = (
            self.w.as_ptr().wrapping_offset(start),
            self.g.as_mut_ptr().wrapping_offset(start),
        );
        // SAFETY: lanes lo..hi of the row are inside `w` (caller), and `g`
        // has `w`'s length: `new` checks it, the fields are private, and
        // `split_at` cuts both at one point; features: the caller.
        unsafe {
            let w = G::load(w, lo, hi);
            if terms == 0 {
                return w;
            }
            let mut sum = G::load(g, lo, hi);
            if let Some(a) = self.k.first(terms) {
                sum = G::splat(a).mul_add(w.sign(), sum);
            }
            if let Some(b) = self.k.second(terms) {
                sum = G::splat(b).mul_add(w, sum);
            }
            sum.store(g, lo, hi);
            w
        }
    }
    #[inline(always)]
    fn element(&mut self, i: usize) -> Lane<T> {
        let (w, terms) = (self.w[i].to_lane(), self.terms());
        if terms == 0 {
            return w;
        }
        let mut sum = self.g[i].to_lane();
        if let Some(a) = self.k.first(terms) {
            sum = a.mul_add(sign(w), sum);
        }
        if let Some(b) = self.k.second(terms) {
            sum = b.mul_add(w, sum);
        }
        self.g[i] = T::from_lane(sum);
        w
    }
}

/// The proximal step `w ← soft(w, t) · c` (the terms present), reducing the
/// new `w` and counting its zeros. `soft(w, t)` is `sign(w)·(|w| − t)` where
/// `|w| > t`, `+0` elsewhere, and NaN stays NaN.
pub struct Prox<'a, T: Element> {
    pub w: &'a mut [T],
    /// `t`, the soft threshold `η·λ₁` (first, if the L1 term is present),
    /// and `c`, the scale `1 / (1 + 2·η·λ₂)` (second, if the L2 term is).
    pub k: Coefficients<Lane<T>>,
}

impl<T: Element> Rows for Prox<'_, T> {
    type Elem = T;
    const COUNTS_ZEROS: bool = true;
    type Local<'b>
        = Prox<'b, T>
    where
        Self: 'b;

    fn local(&mut self) -> Self::Local<'_> {
        Prox {
            w: self.w,
            k: self.k,
        }
    }

    fn len(&self) -> usize {
        self.w.len()
    }
    fn bytes(&self) -> usize {
        2 * size_of_val(self.w)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let k = self.k;
        let (w0, w1) = self.w.split_at_mut(mid);
        (Prox { w: w0, k }, Prox { w: w1, k })
    }
    fn frame(&self) -> usize {
        self.w.as_ptr().addr()
    }
    #[inline(always)]
    fn terms(&self) -> Terms {
        self.k.terms()
    }
    #[inline(always)]
    fn prefetch<G: Group<Elem = T>>(&self, start: isize) {
        G::prefetch(self.w.as_ptr().wrapping_offset(start));
    }
    #[inline(always)]
    unsafe fn row<G: Group<Elem = T>>(
        &mut self,
        start: isize,
        lo: usize,
        hi: usize,
        terms: Terms,
    ) -> G {
        let w = self.w.as_mut_ptr().wrapping_offset(start);
        // SAFETY: lanes lo..hi of the row are inside the slice (caller);
        // features: the caller.
        unsafe {
            let mut v = G::load(w, lo, hi);
            if let Some(t) = self.k.first(terms) {
                let m = v.abs().sub(G::splat(t));
                v = m.where_positive(m.copysign(v));
            }
            if let Some(c) = self.k.second(terms) {
                v = v.mul(G::splat(c));
            }
            v.store(w, lo, hi);
            if T::LANE_IS_ELEMENT {
                v
            } else {
                // A half type: the stored (rounded) weights are what the
                // penalty and the zero count describe.
                G::load(w, lo, hi)
            }
        }
    }
    #[inline(always)]
    fn element(&mut self, i: usize) -> Lane<T> {
        let (mut v, terms) = (self.w[i].to_lane(), self.terms());
        if let Some(t) = self.k.first(terms) {
            let m = v.abs() - t;
            v = where_positive(m, m.copysign(v));
        }
        if let Some(c) = self.k.second(terms) {
            v = v * c;
        }
        self.w[i] = T::from_lane(v);
        self.w[i].to_lane()
    }
}

/// `x ← x·c`: weight decay and gradient clipping.
pub(crate) struct Scale<'a, T: Element> {
    pub x: &'a mut [T],
    pub c: Lane<T>,
}

impl<T: Element> Rows for Scale<'_, T> {
    type Elem = T;
    type Local<'b>
        = Scale<'b, T>
    where
        Self: 'b;

    fn local(&mut self) -> Self::Local<'_> {
        Scale {
            x: self.x,
            c: self.c,
        }
    }

    fn len(&self) -> usize {
        self.x.len()
    }
    fn bytes(&self) -> usize {
        2 * size_of_val(self.x)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (x0, x1) = self.x.split_at_mut(mid);
        (Scale { x: x0, c: self.c }, Scale { x: x1, c: self.c })
    }
    fn frame(&self) -> usize {
        self.x.as_ptr().addr()
    }
    #[inline(always)]
    fn prefetch<G: Group<Elem = T>>(&self, start: isize) {
        G::prefetch(self.x.as_ptr().wrapping_offset(start));
    }
    #[inline(always)]
    unsafe fn row<G: Group<Elem = T>>(
        &mut self,
        start: isize,
        lo: usize,
        hi: usize,
        _: Terms,
    ) -> G {
        let x = self.x.as_mut_ptr().wrapping_offset(start);
        // SAFETY: lanes lo..hi of the row are inside the slice (caller);
        // features: the caller.
        unsafe {
            let v = G::load(x, lo, hi).mul(G::splat(self.c));
            v.store(x, lo, hi);
            v
        }
    }
    #[inline(always)]
    fn element(&mut self, i: usize) -> Lane<T> {
        let v = self.x[i].to_lane() * self.c;
        self.x[i] = T::from_lane(v);
        v
    }
}

/// Rounds an `f64` coefficient to the lane type.
pub(crate) fn coefficient<T: Element>(v: f64) -> Lane<T> {
    Lane::<T>::from_f64(v)
}
