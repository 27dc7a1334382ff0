//! Guard pages: every tier runs every pass on slices whose last element sits
//! right before an unmapped page, and on slices whose first element sits
//! right after one, at every length 0..=256 (so every start, or end,
//! alignment within a cache line and a register). An over-read or
//! over-write in a head or tail loop faults instead of passing by luck.
#![cfg(all(unix, target_pointer_width = "64"))]

use regnorm::{ClipGradNorm, ElasticNet, Exec, L1, L2, Regularizer, Sums, Tier, WeightDecay};

/// Pages: [no access][data][no access].
struct Guarded {
    base: *mut u8,
    page: usize,
    data_pages: usize,
}

impl Guarded {
    fn new(data_pages: usize) -> Guarded {
        // SAFETY: sysconf has no memory arguments.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let total = page * (data_pages + 2);
        // SAFETY: an anonymous private mapping of `total` bytes, checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap failed");
        let base = base.cast::<u8>();
        // SAFETY: both ranges are whole pages inside the mapping just made.
        unsafe {
            assert_eq!(libc::mprotect(base.cast(), page, libc::PROT_NONE), 0);
            assert_eq!(
                libc::mprotect(
                    base.add(page * (data_pages + 1)).cast(),
                    page,
                    libc::PROT_NONE
                ),
                0
            );
        }
        Guarded {
            base,
            page,
            data_pages,
        }
    }

    /// `len` elements ending exactly where the trailing guard page begins.
    fn tail<T>(&mut self, len: usize) -> &mut [T] {
        assert!(len * size_of::<T>() <= self.page * self.data_pages);
        // SAFETY: the range lies in the readable, writable data pages, is
        // aligned for T (page end minus a multiple of size_of::<T>()), and
        // is borrowed mutably from `self` for the slice's lifetime.
        unsafe {
            let end = self.base.add(self.page * (self.data_pages + 1));
            std::slice::from_raw_parts_mut(end.sub(len * size_of::<T>()).cast::<T>(), len)
        }
    }

    /// `len` elements starting exactly where the leading guard page ends.
    fn head<T>(&mut self, len: usize) -> &mut [T] {
        assert!(len * size_of::<T>() <= self.page * self.data_pages);
        // SAFETY: as for `tail`.
        unsafe { std::slice::from_raw_parts_mut(self.base.add(self.page).cast::<T>(), len) }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.base.cast(), self.page * (self.data_pages + 2)) };
    }
}

fn bits(s: Sums) -> (u64, u64) {
    (s.abs.to_bits(), s.sq.to_bits())
}

/// Runs every pass on `w` and `g` (guarded) with `exec`, and checks the
/// results against the same passes on heap copies with the scalar tier.
fn run_all<T>(exec: Exec, w: &mut [T], g: &mut [T], fill: impl Fn(usize) -> T)
where
    T: regnorm::Element + PartialEq + std::fmt::Debug,
{
    let reference = Exec::sequential().with_tier(Tier::Scalar).unwrap();
    for (i, v) in w.iter_mut().enumerate() {
        *v = fill(i);
    }
    for (i, v) in g.iter_mut().enumerate() {
        *v = fill(i + 7);
    }
    let (w0, g0) = (w.to_vec(), g.to_vec());
    assert_eq!(bits(exec.sums(w)), bits(reference.sums(&w0)));
    let en = ElasticNet::new(0.3, 0.5).unwrap();
    for r in [
        en,
        ElasticNet::new(0.3, 1.0).unwrap(),
        ElasticNet::new(0.3, 0.0).unwrap(),
    ] {
        let (mut g_ref, mut w_ref) = (g0.clone(), w0.clone());
        let p_ref = r
            .with_exec(reference)
            .penalty_and_gradient(&w0, &mut g_ref)
            .unwrap();
        let s_ref = r.with_exec(reference).prox_step(&mut w_ref, 0.7).unwrap();
        g.copy_from_slice(&g0);
        let p = r.with_exec(exec).penalty_and_gradient(w, g).unwrap();
        assert_eq!((p.to_bits(), &*g), (p_ref.to_bits(), &g_ref[..]));
        let s = r.with_exec(exec).prox_step(w, 0.7).unwrap();
        assert_eq!((s, &*w), (s_ref, &w_ref[..]));
        w.copy_from_slice(&w0);
    }
    assert_eq!(
        L1::new(0.2).unwrap().with_exec(exec).penalty(w).to_bits(),
        (0.2 * reference.sum_abs(&w0)).to_bits()
    );
    assert_eq!(
        L2::new(0.2).unwrap().with_exec(exec).penalty(w).to_bits(),
        (0.2 * reference.sum_sq(&w0)).to_bits()
    );
    WeightDecay::new(0.1)
        .unwrap()
        .with_exec(exec)
        .apply(w, 0.5)
        .unwrap();
    let mut d_ref = w0.clone();
    WeightDecay::new(0.1)
        .unwrap()
        .with_exec(reference)
        .apply(&mut d_ref, 0.5)
        .unwrap();
    assert_eq!(&*w, &d_ref[..]);
    g.copy_from_slice(&g0);
    ClipGradNorm::new(1e-3)
        .unwrap()
        .with_exec(exec)
        .clip(g)
        .unwrap();
    let mut c_ref = g0.clone();
    ClipGradNorm::new(1e-3)
        .unwrap()
        .with_exec(reference)
        .clip(&mut c_ref)
        .unwrap();
    assert_eq!(&*g, &c_ref[..]);
    assert_eq!(exec.tensor_norms([&*w, &*g]).len(), 2);
}

#[test]
fn every_tier_every_length_at_both_guards() {
    let (mut a, mut b) = (Guarded::new(1), Guarded::new(1));
    for tier in Tier::available() {
        let exec = Exec::sequential().with_tier(tier).unwrap();
        for len in 0..=256 {
            let f32s =
                |i: usize| (i as f32 * 0.37 - 20.0) * if i.is_multiple_of(5) { 0.0 } else { 1.0 };
            run_all::<f32>(exec, a.tail(len), b.head(len), f32s);
            run_all::<f32>(exec, a.head(len), b.tail(len), f32s);
            let f64s = |i: usize| f64::from(f32s(i)) * 1.5;
            run_all::<f64>(exec, a.tail(len), b.head(len), f64s);
            run_all::<f64>(exec, a.head(len), b.tail(len), f64s);
            #[cfg(feature = "half")]
            {
                let bf16s = |i: usize| half::bf16::from_f32(f32s(i));
                run_all::<half::bf16>(exec, a.tail(len), b.head(len), bf16s);
                run_all::<half::bf16>(exec, a.head(len), b.tail(len), bf16s);
                let f16s = |i: usize| half::f16::from_f32(f32s(i) * 0.01);
                run_all::<half::f16>(exec, a.tail(len), b.head(len), f16s);
                run_all::<half::f16>(exec, a.head(len), b.tail(len), f16s);
            }
        }
    }
}

/// A whole page of data with the guard at both ends, large enough for full
/// blocks: the framed first and last rows must stay inside.
#[test]
fn full_pages_touch_both_guards() {
    let (mut a, mut b) = (Guarded::new(4), Guarded::new(4));
    for tier in Tier::available() {
        let exec = Exec::sequential().with_tier(tier).unwrap();
        let n = 4 * a.page / 4;
        run_all::<f32>(exec, a.tail(n), b.tail(n), |i| i as f32 * 0.001 - 1.0);
        for shorten in [1, 3, 15, 31, 33] {
            run_all::<f32>(exec, a.tail(n - shorten), b.head(n - shorten), |i| {
                i as f32 * 0.001 - 1.0
            });
            run_all::<f64>(
                exec,
                a.head(n / 2 - shorten),
                b.tail(n / 2 - shorten),
                |i| i as f64 * 0.001 - 1.0,
            );
        }
    }
}
