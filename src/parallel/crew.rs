//! regnorm's helper threads: a fork-join that costs well under a
//! microsecond when a helper is awake, never blocks the caller on a
//! sleeping one, and lets idle cores sleep.
//!
//! [`join`] hands its second closure to a free helper and runs the first on
//! the calling thread. When the caller is done it takes the second closure
//! back if no helper has started it yet (a parked helper that wakes late
//! finds nothing to do), so a join is never much slower than running both
//! closures on the caller. A helper polls for work for [`SPIN`] after its
//! last job, then parks until the next post unparks it; a caller waiting
//! for a running helper polls for at most [`WAIT_SPIN`], then parks until
//! the helper unparks it.
//!
//! The helper a join uses is the first free one in a fixed order, so
//! back-to-back calls of the same shape give each helper the same part of
//! the input each time, and it re-reads what its own core's cache holds.
//!
//! Helpers are started one at a time, the first time a join reserves their
//! mailbox, and a join only looks at the first `limit` mailboxes: a process
//! limited to `n` threads never has more than `n − 1` helpers. The mailboxes
//! belong to the process that made them: a child made by `fork()` (which has
//! none of its parent's threads) makes a fresh set on its first join and
//! never touches its parent's.
//!
//! This is the one place outside the kernel tiers with `unsafe` code: a
//! helper thread lives for the whole process, while the closure it runs
//! borrows the caller's stack. [`join`] makes that sound by not returning,
//! and not unwinding, before the helper has finished with the closure.
//!
//! The hand-off's atomics and threads come from [`sync`], which is `std`'s
//! in a normal build and loom's under `--cfg loom`: `RUSTFLAGS="--cfg loom"
//! cargo test --release --lib loom` model-checks the mailbox protocol
//! (post, run, take back, wait and park) over every interleaving.

use std::panic::{self, AssertUnwindSafe};

use self::sync::{AtomicBool, AtomicPtr, AtomicU8, Ordering, Thread, UnsafeCell, thread};
use super::placement::Placement;
#[cfg(not(loom))]
use std::time::{Duration, Instant};

/// The atomics and threads of the hand-off: `std`'s, or loom's model of
/// them under `--cfg loom`.
pub(crate) mod sync {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;
    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering};
    #[cfg(loom)]
    pub(crate) use loom::thread::{self, Thread};
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering};
    #[cfg(not(loom))]
    pub(crate) use std::thread::{self, Thread};

    /// `std`'s `UnsafeCell` behind loom's interface (`with`, `with_mut`),
    /// so that under loom every access to a cell is checked for races.
    #[cfg(not(loom))]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        pub(crate) fn new(v: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(v))
        }
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// How long a helper keeps polling for work after its last job before it
/// parks. Back-to-back calls find it awake; an idle process stops burning
/// CPU this long after its last call.
#[cfg(not(loom))]
pub(crate) const SPIN: Duration = Duration::from_micros(300);

/// How long a caller polls for a running helper to finish before it parks.
#[cfg(not(loom))]
pub(crate) const WAIT_SPIN: Duration = Duration::from_micros(100);

/// The most helpers regnorm starts, whatever the thread count asked for.
pub(crate) const MAX_HELPERS: usize = 63;

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const RUNNING: u8 = 2;
/// RUNNING, and the poster has parked (or is about to) until DONE.
const WAITING: u8 = 3;
const DONE: u8 = 4;

/// A type-erased pointer to a [`StackJob`] and the function that runs it.
#[derive(Clone, Copy)]
pub(crate) struct JobRef {
    data: *const (),
    run: unsafe fn(*const ()),
}

/// One helper thread's mailbox. Its first cache line holds what crosses
/// between the cores at a hand-off, so that a post moves one line to the
/// helper; the posters' own fields sit in a line of their own, so that
/// reserving the mailbox does not take that line from the polling helper.
#[repr(C, align(64))]
pub(crate) struct Helper {
    /// IDLE → POSTED (poster) → RUNNING (helper) [→ WAITING (poster)] →
    /// DONE (helper) → IDLE (poster); or POSTED → IDLE when the poster
    /// takes the job back.
    state: AtomicU8,
    /// Set by the helper just before it parks.
    parked: AtomicBool,
    /// Written by the poster while it holds the reservation and the state is
    /// IDLE; read by the helper only after it has moved POSTED to RUNNING.
    job: UnsafeCell<Option<JobRef>>,
    /// The posted job's address, stored with `job`: the helper prefetches
    /// its cache line while it claims the job. A hint, never dereferenced.
    job_hint: AtomicPtr<()>,
    /// The parked poster, to unpark at DONE: written by the poster before
    /// it moves RUNNING to WAITING; taken by the helper while the state is
    /// WAITING, before it stores DONE.
    waiter: UnsafeCell<Option<Thread>>,
    /// Where it runs: kept off the CPU of the thread that posts to it. Its
    /// CPU field sits in the first cache line, with the hand-off's fields.
    placement: Placement,
    posters: Posters,
}

/// The fields only posters touch, in a cache line of their own.
#[repr(C, align(64))]
struct Posters {
    /// Owned by one poster from reservation to release.
    reserved: AtomicBool,
    /// Whether the helper's thread has been started; written only by the
    /// poster holding the reservation.
    started: AtomicBool,
    /// The helper's thread, to unpark it: written once by the poster that
    /// starts it, before that poster's first POSTED store.
    thread: UnsafeCell<Option<Thread>>,
}

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
const _: () = assert!(std::mem::offset_of!(Helper, placement) + super::placement::CPU_OFFSET < 64);

// SAFETY: the `UnsafeCell` fields are each owned by one side at a time,
// handed over by the acquire/release operations on `reserved` and `state`
// (`job_hint` is an atomic, and only ever prefetched).
// `thread` is touched only by the poster holding the reservation (the
// helper never reads it). `job` is written by the reserving poster while
// the state is IDLE and read by the helper after its acquiring POSTED →
// RUNNING exchange. `waiter` is written by the poster before its release
// RUNNING → WAITING exchange and taken by the helper after it has acquired
// WAITING, before its release store of DONE. The poster touches `job` and
// `waiter` again only after it has seen DONE (acquire) or taken the job
// back with its own exchange from POSTED.
unsafe impl Sync for Helper {}

impl Helper {
    pub(crate) fn new() -> Helper {
        Helper {
            state: AtomicU8::new(IDLE),
            parked: AtomicBool::new(false),
            job: UnsafeCell::new(None),
            job_hint: AtomicPtr::new(std::ptr::null_mut()),
            waiter: UnsafeCell::new(None),
            placement: Placement::new(),
            posters: Posters {
                reserved: AtomicBool::new(false),
                started: AtomicBool::new(false),
                thread: UnsafeCell::new(None),
            },
        }
    }

    /// Reserves the mailbox for one post, if free.
    pub(crate) fn reserve(&self) -> bool {
        self.posters
            .reserved
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Runs the posted job if there is one: the helper's half of the
    /// hand-off. Returns whether it ran one.
    pub(crate) fn try_run(&self) -> bool {
        if self.state.load(Ordering::Acquire) != POSTED {
            return false;
        }
        // The job's line travels while the exchange takes the hand-off line.
        prefetch_for_write(self.job_hint.load(Ordering::Relaxed));
        if self
            .state
            .compare_exchange(POSTED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: we moved POSTED to RUNNING, so the poster wrote `job`
        // before its release store of POSTED, which our acquire saw, and it
        // will not touch it until DONE.
        let job = self.job.with(|j| unsafe { *j });
        if let Some(job) = job {
            // SAFETY: the poster keeps the job alive and does not return
            // until it sees DONE (see `join`).
            unsafe { (job.run)(job.data) };
        }
        // Done: RUNNING → DONE, unless the poster has parked (WAITING). Then
        // its thread is taken out of `waiter` *before* DONE is published:
        // once the poster sees DONE it clears `waiter`, so reading it after
        // the store would race with that write.
        if self
            .state
            .compare_exchange(RUNNING, DONE, Ordering::Release, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: the state is WAITING (the only other state a poster
            // can move RUNNING to), so the poster wrote `waiter` before its
            // release exchange to WAITING, which our failed exchange
            // acquired, and it does not touch `waiter` until it sees DONE,
            // which we store only below.
            let waiter = self.waiter.with_mut(|w| unsafe { (*w).take() });
            self.state.store(DONE, Ordering::Release);
            if let Some(w) = waiter {
                w.unpark();
            }
        }
        // After the hand-off, off the poster's path.
        self.placement.running();
        true
    }

    /// The helper thread's loop: run posted jobs, poll for [`SPIN`] after
    /// each, then park.
    #[cfg(not(loom))]
    fn serve(&self) {
        self.placement.started();
        let mut last_job = Instant::now();
        let mut polls = 0u32;
        loop {
            if self.try_run() {
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
            self.park_until_posted();
            self.placement.running();
        }
    }

    /// Parks the helper until a post (or a spurious wake-up).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn park_until_posted(&self) {
        self.parked.store(true, Ordering::SeqCst);
        if self.state.load(Ordering::SeqCst) != POSTED {
            thread::park();
        }
        self.parked.store(false, Ordering::SeqCst);
    }

    /// Publishes the job behind `job` to the helper and wakes it if it was
    /// parked (returns whether it was).
    ///
    /// # Safety
    /// The caller holds the reservation, the state is IDLE, and `job` stays
    /// valid until [`settle`](Helper::settle) has returned.
    pub(crate) unsafe fn post(&self, job: JobRef) -> bool {
        // SAFETY: reserved and IDLE (the caller's contract): the helper
        // does not read `job` until the POSTED store below.
        self.job.with_mut(|j| unsafe { *j = Some(job) });
        self.job_hint.store(job.data.cast_mut(), Ordering::Relaxed);
        self.state.store(POSTED, Ordering::SeqCst);
        let parked = self.parked.load(Ordering::SeqCst);
        if parked {
            self.posters.thread.with(|t| {
                // SAFETY: `thread` is touched only under the reservation,
                // which we hold.
                if let Some(t) = unsafe { &*t } {
                    t.unpark();
                }
            });
        }
        parked
    }

    /// Takes the posted job back if the helper has not started it
    /// (returns `true`), or waits until the helper is done with it
    /// (`false`); then frees the mailbox.
    pub(crate) fn settle(&self) -> bool {
        let taken_back = self
            .state
            .compare_exchange(POSTED, IDLE, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if !taken_back {
            self.wait_done();
            self.state.store(IDLE, Ordering::Relaxed);
        }
        // SAFETY: IDLE and still reserved by us: the helper reads neither
        // `job` nor `waiter` again.
        self.job.with_mut(|j| unsafe { *j = None });
        // SAFETY: as above.
        self.waiter.with_mut(|w| unsafe { *w = None });
        self.posters.reserved.store(false, Ordering::Release);
        taken_back
    }

    /// Waits for DONE: polls for [`WAIT_SPIN`], then parks.
    fn wait_done(&self) {
        #[cfg(not(loom))]
        {
            let start = Instant::now();
            let mut polls = 0u32;
            while self.state.load(Ordering::Acquire) != DONE {
                polls = polls.wrapping_add(1);
                if polls.is_multiple_of(64) && start.elapsed() >= WAIT_SPIN {
                    break;
                }
                std::hint::spin_loop();
            }
        }
        if self.state.load(Ordering::Acquire) == DONE {
            return;
        }
        // SAFETY: the helper touches `waiter` only while the state is
        // WAITING, and it is not WAITING yet (only this thread moves it
        // there, just below).
        self.waiter
            .with_mut(|w| unsafe { *w = Some(thread::current()) });
        if self
            .state
            .compare_exchange(RUNNING, WAITING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // DONE already: the only other state it could be in.
            return;
        }
        while self.state.load(Ordering::Acquire) != DONE {
            thread::park();
        }
    }
}

/// The mailboxes of one process, and the first that a fork made stale.
struct Crew {
    /// The fork generation ([`fork::generation`]) this set was made in.
    generation: usize,
    helpers: Box<[Helper]>,
}

/// Always `std`'s atomics: the set of mailboxes is not part of the
/// protocol loom checks.
static CREW: std::sync::atomic::AtomicPtr<Crew> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// This process's mailboxes, made on first use (and again in a forked
/// child). Made without a lock, so a fork at any moment cannot leave the
/// child waiting on one.
fn crew() -> &'static Crew {
    use std::sync::atomic::Ordering;
    let generation = fork::generation();
    let current = CREW.load(Ordering::Acquire);
    // SAFETY: a non-null CREW points to a leaked `Crew`, never freed.
    if let Some(c) = unsafe { current.as_ref() }
        && c.generation == generation
    {
        return c;
    }
    let fresh = Box::into_raw(Box::new(Crew {
        generation,
        helpers: (0..MAX_HELPERS).map(|_| Helper::new()).collect(),
    }));
    match CREW.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just leaked; the previous set (a parent's, seen by a
        // forked child) is left as it is: its threads do not exist here.
        Ok(_) => unsafe { &*fresh },
        Err(other) => {
            // SAFETY: `fresh` was never published: we still own it.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: non-null (a thread installed it), leaked, never freed.
            unsafe { &*other }
        }
    }
}

/// Fork detection: a counter that a `pthread_atfork` child handler bumps,
/// registered when the first set of mailboxes is made.
mod fork {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    static GENERATION: AtomicUsize = AtomicUsize::new(0);

    /// The number of forks this process descends through (since the
    /// handler was registered).
    pub(super) fn generation() -> usize {
        register();
        GENERATION.load(Ordering::Acquire)
    }

    /// Registers the child handler before this thread may make or use a
    /// set of mailboxes. `REGISTERED` is set only after a registration has
    /// returned, so a set of mailboxes exists only once a handler does, and
    /// a fork after that always bumps the child's generation. Threads that
    /// race here may each register one (each then bumps the generation;
    /// only its change matters), and nobody waits on anybody: a fork at any
    /// moment leaves nothing for the child to wait on.
    #[cfg(all(unix, not(miri), not(loom)))]
    fn register() {
        static REGISTERED: AtomicBool = AtomicBool::new(false);
        extern "C" fn child() {
            // Async-signal-safe: one atomic add.
            GENERATION.fetch_add(1, Ordering::AcqRel);
        }
        if !REGISTERED.load(Ordering::Acquire) {
            // SAFETY: registers a handler that only touches an atomic; no
            // other preconditions.
            unsafe { libc::pthread_atfork(None, None, Some(child)) };
            REGISTERED.store(true, Ordering::Release);
        }
    }

    #[cfg(not(all(unix, not(miri), not(loom))))]
    fn register() {
        let _ = (&AtomicBool::new(false), &GENERATION, Ordering::Relaxed);
    }
}

/// Asks the CPU to bring the cache line at `p` into this core's cache,
/// ready to be written. A hint: it reads and writes nothing, and never
/// faults, whatever `p` is.
#[inline(always)]
fn prefetch_for_write(p: *mut ()) {
    #[cfg(all(target_arch = "x86_64", not(miri), not(loom)))]
    {
        use std::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
        // SAFETY: a prefetch is not a memory access: any address is sound.
        unsafe { _mm_prefetch::<_MM_HINT_ET0>(p.cast::<i8>()) };
    }
    let _ = p;
}

/// Starts the helper thread of a reserved mailbox, if it has none yet.
/// Returns `false` if the thread could not be started.
fn ensure_started(helper: &'static Helper) -> bool {
    if helper.posters.started.load(Ordering::Relaxed) {
        return true;
    }
    #[cfg(not(loom))]
    let spawned = thread::Builder::new()
        .name("regnorm-helper".into())
        .spawn(move || helper.serve());
    #[cfg(loom)]
    let spawned: std::io::Result<thread::JoinHandle<()>> =
        Err(std::io::Error::other("no helper threads under loom"));
    match spawned {
        Ok(handle) => {
            // SAFETY: `thread` belongs to the reservation's holder, us; the
            // helper does not read it (only posters unpark).
            helper
                .posters
                .thread
                .with_mut(|t| unsafe { *t = Some(handle.thread().clone()) });
            helper.posters.started.store(true, Ordering::Relaxed);
            true
        }
        Err(_) => false,
    }
}

/// A closure and its result, on the poster's stack, in cache lines of its
/// own: the helper writes the result while the poster works on its share,
/// and the poster's other locals must not sit in the lines it writes.
#[repr(align(64))]
pub(crate) struct StackJob<F, R> {
    f: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<std::thread::Result<R>>>,
}

impl<F: FnOnce() -> R + Send, R: Send> StackJob<F, R> {
    pub(crate) fn new(f: F) -> Self {
        StackJob {
            f: UnsafeCell::new(Some(f)),
            result: UnsafeCell::new(None),
        }
    }

    /// The type-erased reference a helper runs.
    pub(crate) fn as_job_ref(&self) -> JobRef {
        JobRef {
            data: std::ptr::from_ref(self).cast(),
            run: Self::run,
        }
    }

    /// Runs the closure behind `data`, catching a panic for the poster.
    ///
    /// # Safety
    /// `data` points to a live `StackJob<F, R>` that no other thread
    /// touches until this returns.
    unsafe fn run(data: *const ()) {
        // SAFETY: the caller's contract.
        let job = unsafe { &*data.cast::<StackJob<F, R>>() };
        // SAFETY: exclusive access (the caller's contract).
        let f = job.f.with_mut(|f| unsafe { (*f).take() });
        if let Some(f) = f {
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            // SAFETY: exclusive access (the caller's contract).
            job.result.with_mut(|r| unsafe { *r = Some(result) });
        }
    }

    /// The result, once the job is settled: runs the closure here if it
    /// was taken back, and resumes a helper's panic.
    ///
    /// # Safety
    /// The job has been settled ([`Helper::settle`] returned `taken_back`):
    /// no other thread touches it any more.
    pub(crate) unsafe fn into_result(self, taken_back: bool) -> R {
        if taken_back {
            // SAFETY: settled (the caller's contract): no other thread
            // touches the job.
            let f = self.f.with_mut(|f| unsafe { (*f).take() });
            return f.expect("a job taken back has its closure")();
        }
        // SAFETY: as above.
        match self.result.with_mut(|r| unsafe { (*r).take() }) {
            Some(Ok(r)) => r,
            Some(Err(payload)) => panic::resume_unwind(payload),
            None => unreachable!("a job that was run has its result"),
        }
    }
}

/// A posted job: settled (taken back, or waited for) before the poster's
/// stack frame can go away, on return or on unwind.
struct Posted {
    helper: &'static Helper,
    settled: bool,
}

impl Posted {
    fn settle(&mut self) -> bool {
        self.settled = true;
        self.helper.settle()
    }
}

impl Drop for Posted {
    fn drop(&mut self) {
        if !self.settled {
            self.settle();
        }
    }
}

/// Runs `a` on the calling thread and `b` on a free helper among the first
/// `limit` (else on the calling thread after `a`), and returns both
/// results.
///
/// A panic in either closure is propagated to the caller once both have
/// finished or `b` has been taken back (`a`'s if both panic).
pub(crate) fn join<A, B, RA, RB>(limit: usize, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB + Send,
    RB: Send,
{
    let helpers = &crew().helpers[..limit.min(MAX_HELPERS)];
    let Some(helper) = helpers.iter().find(|h| h.reserve()) else {
        return (a(), b());
    };
    if !ensure_started(helper) {
        // Keep the mailbox reserved forever: its thread cannot be started.
        return (a(), b());
    }
    let job = StackJob::new(b);
    // SAFETY: we hold the reservation and the state is IDLE (a mailbox is
    // IDLE whenever it is free). `job` outlives `posted` (declared after
    // it, so dropped first), whose Drop settles the job before this frame
    // returns or unwinds.
    let woke = unsafe { helper.post(job.as_job_ref()) };
    let mut posted = Posted {
        helper,
        settled: false,
    };
    // After the post, which has just taken the line this reads.
    helper.placement.keep_off_callers_cpu();
    let ra = a();
    let taken_back = posted.settle();
    if taken_back && woke {
        // The helper we woke did not start: it may be queued behind us.
        // (The mailbox is already released; `Placement` is atomics and a
        // mutex, safe beside another poster's post.)
        helper.placement.woken_behind_caller();
    }
    // SAFETY: settled just above.
    let rb = unsafe { job.into_result(taken_back) };
    (ra, rb)
}

/// The number of helper threads started in this process so far (for
/// tests).
#[cfg(all(test, not(loom)))]
pub(crate) fn started() -> usize {
    crew()
        .helpers
        .iter()
        .filter(|h| h.posters.started.load(Ordering::Relaxed))
        .count()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::panic::catch_unwind;

    fn payload(e: Box<dyn std::any::Any + Send>) -> &'static str {
        e.downcast_ref::<&'static str>().copied().unwrap_or("?")
    }

    #[test]
    fn both_results_come_back() {
        for _ in 0..if cfg!(miri) { 10 } else { 100 } {
            let x = 7;
            let (a, b) = join(1, || x + 1, || x * 2);
            assert_eq!((a, b), (8, 14));
        }
    }

    #[test]
    fn a_panics() {
        let r = catch_unwind(|| join(1, || panic!("a"), || 2));
        assert_eq!(payload(r.unwrap_err()), "a");
        // The mailbox was released: the next join works.
        assert_eq!(join(1, || 1, || 2), (1, 2));
    }

    #[test]
    fn b_panics() {
        let r = catch_unwind(|| join(1, || 1, || -> i32 { panic!("b") }));
        assert_eq!(payload(r.unwrap_err()), "b");
        assert_eq!(join(1, || 1, || 2), (1, 2));
    }

    #[test]
    fn both_panic_and_a_wins() {
        let r = catch_unwind(|| join(1, || -> i32 { panic!("a") }, || -> i32 { panic!("b") }));
        assert_eq!(payload(r.unwrap_err()), "a");
        assert_eq!(join(1, || 1, || 2), (1, 2));
    }

    #[test]
    fn a_slow_side_makes_the_caller_park_and_be_woken() {
        // `b` runs long past WAIT_SPIN on the helper (unless taken back).
        for _ in 0..5 {
            let (a, b) = join(
                1,
                || 1,
                || {
                    std::thread::sleep(Duration::from_millis(5));
                    2
                },
            );
            assert_eq!((a, b), (1, 2));
        }
    }

    #[test]
    fn limit_zero_runs_both_on_the_caller() {
        let me = std::thread::current().id();
        let (a, b) = join(
            0,
            || std::thread::current().id(),
            || std::thread::current().id(),
        );
        assert_eq!((a, b), (me, me));
    }

    #[test]
    fn nested_joins_and_busy_mailboxes_fall_back_to_the_caller() {
        let total: u64 = (0..50)
            .map(|i| {
                let (x, (y, z)) = join(2, || i, || join(2, || i + 1, || i + 2));
                x + y + z
            })
            .sum();
        assert_eq!(total, (0..50).map(|i| 3 * i + 3).sum());
        assert!(started() <= 2);
    }

    #[test]
    fn a_reserved_mailbox_is_skipped() {
        let c = crew();
        // Hold mailbox 0 as another poster would.
        while !c.helpers[0].reserve() {
            std::thread::yield_now();
        }
        let me = std::thread::current().id();
        let (_, b) = join(1, || (), || std::thread::current().id());
        assert_eq!(b, me, "the only allowed mailbox was busy: b ran here");
        c.helpers[0]
            .posters
            .reserved
            .store(false, Ordering::Release);
    }
}

/// The mailbox protocol under loom: a poster and a helper thread, every
/// interleaving of post, run or take-back, wait, park and unpark.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// One post against a helper that polls once, then parks and polls
    /// again: the job runs exactly once, on one side, and its result is
    /// seen by the poster.
    fn one_post(helper_polls_first: bool) {
        loom::model(move || {
            let helper = Arc::new(Helper::new());
            let h = helper.clone();
            assert!(helper.reserve());
            // SAFETY: only the reservation's holder writes `thread`.
            helper.posters.thread.with_mut(|t| unsafe { *t = None });
            let worker = loom::thread::spawn(move || {
                if !h.try_run() && helper_polls_first {
                    h.try_run();
                }
            });
            let job = StackJob::new(|| 7u32);
            // SAFETY: reserved, IDLE; `job` outlives the settle below.
            unsafe { helper.post(job.as_job_ref()) };
            let taken_back = helper.settle();
            // SAFETY: settled.
            assert_eq!(unsafe { job.into_result(taken_back) }, 7);
            worker.join().unwrap();
            assert!(!helper.posters.reserved.load(Ordering::Relaxed));
            assert_eq!(helper.state.load(Ordering::Relaxed), IDLE);
        });
    }

    #[test]
    fn loom_post_run_or_take_back() {
        one_post(false);
    }

    #[test]
    fn loom_post_with_a_second_poll() {
        one_post(true);
    }
}
