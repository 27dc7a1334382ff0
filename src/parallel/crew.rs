//! regnorm's helper threads: a fork-join that costs well under a
//! microsecond when a helper is awake, never blocks the caller on a
//! sleeping one, and lets idle cores sleep.
//!
//! [`join`] hands its second closure to a free helper and runs the first on
//! the calling thread. When the caller is done it takes the second closure
//! back if no helper has started it yet (a parked helper that wakes late
//! finds nothing to do), so a join is never much slower than running both
//! closures on the caller. A helper polls for work for [`SPIN`] after its
//! last job, then parks until the next post unparks it.
//!
//! The helper a join uses is the first free one in a fixed order, so
//! back-to-back calls of the same shape give each helper the same part of
//! the input each time, and it re-reads what its own core's cache holds.
//!
//! This is the one place outside the kernel tiers with `unsafe` code: a
//! helper thread lives for the whole process, while the closure it runs
//! borrows the caller's stack. [`join`] makes that sound by not returning,
//! and not unwinding, before the helper has finished with the closure.

use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use super::placement::Placement;

/// How long a helper keeps polling for work after its last job before it
/// parks. Back-to-back calls find it awake; an idle process stops burning
/// CPU this long after its last call.
pub(crate) const SPIN: Duration = Duration::from_micros(300);

/// The most helpers regnorm starts, whatever the core count.
const MAX_HELPERS: usize = 63;

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const RUNNING: u8 = 2;
const DONE: u8 = 3;

/// A type-erased pointer to a [`StackJob`] and the function that runs it.
#[derive(Clone, Copy)]
struct JobRef {
    data: *const (),
    run: unsafe fn(*const ()),
}

/// One helper thread's mailbox. `repr(C)` keeps the fields in this order:
/// those a hand-off touches come first, within the mailbox's first cache
/// line, which no other helper's shares; a hand-off then moves one line
/// between the two cores, not several.
#[repr(C, align(64))]
struct Helper {
    /// Owned by one poster from reservation to release.
    reserved: AtomicBool,
    /// IDLE → POSTED (poster) → RUNNING (helper) → DONE (helper) → IDLE
    /// (poster); or POSTED → IDLE when the poster takes the job back.
    state: AtomicU8,
    /// Written by the poster while it holds the reservation and the state is
    /// IDLE; read by the helper only after it has moved POSTED to RUNNING.
    job: UnsafeCell<Option<JobRef>>,
    /// Set by the helper just before it parks.
    parked: AtomicBool,
    thread: OnceLock<Thread>,
    /// Where it runs: kept off the CPU of the thread that posts to it.
    placement: Placement,
}

// The hand-off's fields, the helper's CPU included, in the first line.
#[cfg(target_os = "linux")]
const _: () = assert!(std::mem::offset_of!(Helper, placement) + super::placement::CPU_OFFSET < 64);

// SAFETY: `job` is the only field without its own synchronization. It is
// written only by the poster that holds `reserved` while `state` is IDLE,
// and read only by the helper after its compare-exchange from POSTED to
// RUNNING, which acquires the poster's release store of POSTED; the poster
// does not touch it again until it has seen DONE (acquire) or taken the job
// back with its own compare-exchange from POSTED.
unsafe impl Sync for Helper {}

impl Helper {
    const fn new() -> Helper {
        Helper {
            reserved: AtomicBool::new(false),
            state: AtomicU8::new(IDLE),
            job: UnsafeCell::new(None),
            parked: AtomicBool::new(false),
            thread: OnceLock::new(),
            placement: Placement::new(),
        }
    }

    /// The helper thread's loop: run posted jobs, poll for [`SPIN`] after
    /// each, then park.
    fn serve(&'static self) {
        let _ = self.thread.set(thread::current());
        self.placement.started();
        let mut last_job = Instant::now();
        let mut polls = 0u32;
        loop {
            if self.state.load(Ordering::Acquire) == POSTED
                && self
                    .state
                    .compare_exchange(POSTED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                self.placement.running();
                // SAFETY: we moved POSTED to RUNNING, so the poster wrote
                // `job` before its release store of POSTED, which our
                // acquire saw, and it will not touch it until DONE.
                let job = unsafe { *self.job.get() };
                if let Some(job) = job {
                    // SAFETY: the poster keeps the job alive and does not
                    // return until it sees DONE (see `join`).
                    unsafe { (job.run)(job.data) };
                }
                self.state.store(DONE, Ordering::Release);
                last_job = Instant::now();
                continue;
            }
            polls = polls.wrapping_add(1);
            if !polls.is_multiple_of(64) {
                std::hint::spin_loop();
                continue;
            }
            if last_job.elapsed() < SPIN {
                self.placement.running();
                continue;
            }
            self.placement.parking();
            self.parked.store(true, Ordering::SeqCst);
            if self.state.load(Ordering::SeqCst) != POSTED {
                thread::park();
            }
            self.parked.store(false, Ordering::SeqCst);
            self.placement.running();
        }
    }

    /// Wakes the helper if it has parked (or is about to).
    fn wake(&self) {
        if self.parked.load(Ordering::SeqCst)
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
    }
}

/// The helpers, started on first use: one per core beyond the caller's.
fn helpers() -> &'static [Helper] {
    static HELPERS: OnceLock<&'static [Helper]> = OnceLock::new();
    HELPERS.get_or_init(|| {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        let count = cores.saturating_sub(1).min(MAX_HELPERS);
        let helpers: &'static [Helper] =
            Box::leak((0..count).map(|_| Helper::new()).collect::<Box<[Helper]>>());
        for (k, helper) in helpers.iter().enumerate() {
            let spawned = thread::Builder::new()
                .name(format!("regnorm-helper-{k}"))
                .spawn(move || helper.serve());
            if spawned.is_err() {
                // No thread: keep the mailbox reserved forever, unused.
                helper.reserved.store(true, Ordering::Relaxed);
            }
        }
        helpers
    })
}

/// A closure and its result, on the poster's stack, in cache lines of its
/// own: the helper writes the result while the poster works on its share,
/// and the poster's other locals must not sit in the lines it writes.
#[repr(align(64))]
struct StackJob<F, R> {
    f: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<thread::Result<R>>>,
}

impl<F: FnOnce() -> R, R> StackJob<F, R> {
    /// Runs the closure behind `data`, catching a panic for the poster.
    ///
    /// # Safety
    /// `data` points to a live `StackJob<F, R>` that no other thread
    /// touches until this returns.
    unsafe fn run(data: *const ()) {
        // SAFETY: the caller's contract.
        let job = unsafe { &*data.cast::<StackJob<F, R>>() };
        // SAFETY: exclusive access (the caller's contract).
        let f = unsafe { (*job.f.get()).take() };
        if let Some(f) = f {
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            // SAFETY: exclusive access (the caller's contract).
            unsafe { *job.result.get() = Some(result) };
        }
    }
}

/// A job posted to a helper: settles it (takes it back, or waits until the
/// helper is done with it) before the poster's stack frame can go away, on
/// return or on unwind.
struct Posted {
    helper: &'static Helper,
    settled: bool,
}

impl Posted {
    /// Returns `true` if the job was taken back unstarted, `false` once the
    /// helper has run it; then releases the helper.
    fn settle(&mut self) -> bool {
        self.settled = true;
        let h = self.helper;
        let taken_back = h
            .state
            .compare_exchange(POSTED, IDLE, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if !taken_back {
            let mut polls = 0u32;
            while h.state.load(Ordering::Acquire) != DONE {
                polls = polls.wrapping_add(1);
                if polls < 1 << 16 {
                    std::hint::spin_loop();
                } else {
                    thread::yield_now();
                }
            }
            h.state.store(IDLE, Ordering::Relaxed);
        }
        // SAFETY: IDLE and still reserved by us: nobody else reads `job`.
        unsafe { *h.job.get() = None };
        h.reserved.store(false, Ordering::Release);
        taken_back
    }
}

impl Drop for Posted {
    fn drop(&mut self) {
        if !self.settled {
            self.settle();
        }
    }
}

/// Runs `a` on the calling thread and `b` on a free helper if there is one
/// (else on the calling thread after `a`), and returns both results.
///
/// A panic in either closure is propagated to the caller once both have
/// finished or `b` has been taken back.
pub(crate) fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB + Send,
    RB: Send,
{
    let Some(helper) = helpers().iter().find(|h| {
        h.reserved
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }) else {
        return (a(), b());
    };
    helper.placement.keep_off_callers_cpu();
    let job = StackJob {
        f: UnsafeCell::new(Some(b)),
        result: UnsafeCell::new(None),
    };
    // SAFETY: we hold the reservation and the state is IDLE, so the helper
    // does not read `job` until the POSTED store below. The pointer stays
    // valid until `Posted` has settled the job, which it does before this
    // frame returns or unwinds (its Drop).
    unsafe {
        *helper.job.get() = Some(JobRef {
            data: (&raw const job).cast(),
            run: StackJob::<B, RB>::run,
        });
    }
    // Declared after `job`, so dropped (and the job settled) before it.
    let mut posted = Posted {
        helper,
        settled: false,
    };
    helper.state.store(POSTED, Ordering::SeqCst);
    helper.wake();
    let ra = a();
    let rb = if posted.settle() {
        // SAFETY: taken back unstarted: no other thread touches the job.
        let b = unsafe { (*job.f.get()).take() };
        b.map(|b| b())
    } else {
        // SAFETY: the helper is done (DONE was acquired): we are alone.
        match unsafe { (*job.result.get()).take() } {
            Some(Ok(rb)) => Some(rb),
            Some(Err(payload)) => panic::resume_unwind(payload),
            None => None,
        }
    };
    (ra, rb.expect("a posted job runs exactly once"))
}
