//! Keeping a helper off its caller's CPU (Linux).
//!
//! A split is only faster than one thread if the caller and the helper run
//! on different CPUs. When a new thread starts calling (a rayon worker woken
//! by `install`, say), the scheduler may put it on the CPU where the helper
//! polls; the two then time-share that CPU while another idles until the
//! load balancer moves one of them, which takes milliseconds, and every
//! call in between runs at one thread's speed (the caller takes its
//! unstarted share back). So each helper publishes the CPU it runs on, and
//! a caller that finds its helper on its own CPU moves the helper: it sets
//! the helper's CPUs to the caller's own CPU set, read at that moment, less
//! the caller's CPU. Once the helper runs elsewhere it widens its CPUs back
//! to that same set (the caller's, as of the move: never an older one).
//!
//! The same happens when a caller wakes a parked helper: the scheduler
//! often wakes a thread on its waker's CPU, where it waits behind the
//! caller, while the CPU it published is the one it parked on. So a caller
//! that woke its helper and then took its share back (the helper never
//! started) moves the helper off its own CPU too, once until the helper
//! runs. The `wake` harness of regnorm-support counts such rounds.
//!
//! Only regnorm's own helper threads of this process are ever moved (a
//! forked child has its own helpers, see `crew`), never a caller.
//! Elsewhere than Linux this is a no-op.

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
mod linux {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

    /// Where one helper thread runs. `repr(C)` keeps `cpu`, which a caller
    /// reads at every hand-off, among the first bytes, in the mailbox's
    /// first cache line (see `crew::Helper`).
    #[repr(C)]
    pub(crate) struct Placement {
        /// The CPU the helper last ran or parked on, or -1 when unknown
        /// (before it starts, and after a move until it runs again).
        cpu: AtomicI32,
        /// The helper's thread id, once it has started; 0 before.
        tid: AtomicI32,
        /// Set by a caller that narrowed the helper's CPUs; the helper then
        /// widens them back once it runs elsewhere.
        narrowed: AtomicBool,
        /// The caller's CPU set at the last move: what the helper widens to.
        widen_to: Mutex<Option<libc::cpu_set_t>>,
    }

    /// Where `cpu` sits in a `Placement`.
    pub(crate) const CPU_OFFSET: usize = std::mem::offset_of!(Placement, cpu);

    impl Placement {
        pub(crate) fn new() -> Placement {
            Placement {
                cpu: AtomicI32::new(-1),
                tid: AtomicI32::new(0),
                narrowed: AtomicBool::new(false),
                widen_to: Mutex::new(None),
            }
        }

        /// Called on the helper thread when it starts.
        pub(crate) fn started(&self) {
            // SAFETY: `gettid` has no preconditions.
            let tid = unsafe { libc::gettid() };
            self.tid.store(tid, Ordering::Release);
            self.running();
        }

        /// Called on the helper thread while it polls and when it starts a
        /// job: publishes its CPU; after a move, widens its CPUs back.
        #[inline]
        pub(crate) fn running(&self) {
            // Written only when it changes: the caller reads this line at
            // every hand-off.
            let cpu = current_cpu();
            if self.cpu.load(Ordering::Relaxed) != cpu {
                self.cpu.store(cpu, Ordering::Relaxed);
            }
            if self.narrowed.load(Ordering::Acquire) {
                self.widen();
            }
        }

        #[cold]
        fn widen(&self) {
            self.narrowed.store(false, Ordering::Relaxed);
            let set = self.widen_to.lock().map_or(None, |s| *s);
            if let Some(set) = set {
                // SAFETY: `set` is a valid `cpu_set_t` of the size passed;
                // pid 0 is this (helper) thread.
                unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
            }
        }

        /// Called on the helper thread before it parks: it keeps the CPU it
        /// parks on, where the scheduler most often wakes it, so that the
        /// next caller on that CPU still sees it there and moves it.
        pub(crate) fn parking(&self) {
            self.cpu.store(current_cpu(), Ordering::Relaxed);
        }

        /// Called by a caller that has just posted the helper work: if the
        /// helper polls (or parked) on the caller's CPU, move it off it.
        #[inline]
        pub(crate) fn keep_off_callers_cpu(&self) {
            let helper_cpu = self.cpu.load(Ordering::Relaxed);
            if helper_cpu >= 0 && current_cpu() == helper_cpu {
                self.move_off(helper_cpu);
            }
        }

        /// Called by a caller that woke the helper and then took its share
        /// back because the helper had not started. The scheduler often
        /// wakes a thread on its waker's CPU, where it waits behind the
        /// caller, and its published CPU (where it parked) says nothing of
        /// that: move it off the caller's CPU, once until it runs again.
        #[cold]
        pub(crate) fn woken_behind_caller(&self) {
            let cpu = current_cpu();
            if cpu >= 0 && !self.narrowed.load(Ordering::Acquire) {
                self.move_off(cpu);
            }
        }

        #[cold]
        fn move_off(&self, cpu: i32) {
            let tid = self.tid.load(Ordering::Acquire);
            let Ok(cpu) = usize::try_from(cpu) else {
                return;
            };
            // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set.
            let mut mine: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            // SAFETY: `mine` is a valid, writable `cpu_set_t` of the size
            // passed; pid 0 is the calling thread.
            let got =
                unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut mine) };
            if tid == 0 || got != 0 {
                return;
            }
            let mut set = mine;
            // SAFETY: `set` is a valid `cpu_set_t`; CPU_CLR ignores indices
            // past its size.
            unsafe { libc::CPU_CLR(cpu, &mut set) };
            // SAFETY: `set` is a valid `cpu_set_t`.
            if unsafe { libc::CPU_COUNT(&set) } == 0 {
                return;
            }
            if let Ok(mut w) = self.widen_to.lock() {
                *w = Some(mine);
            }
            // SAFETY: `set` is a valid `cpu_set_t` of the size passed, and
            // `tid` is a helper thread of this process's crew (a forked
            // child makes its own), which lives as long as the process. A
            // failure leaves the helper where it is.
            let moved = unsafe { libc::sched_setaffinity(tid, size_of::<libc::cpu_set_t>(), &set) };
            if moved == 0 {
                self.narrowed.store(true, Ordering::Release);
                // Until it runs again, assume it has moved: no second move.
                self.cpu.store(-1, Ordering::Relaxed);
            }
        }
    }

    /// The CPU the calling thread runs on (a vDSO call, tens of
    /// nanoseconds), or -1.
    #[inline]
    fn current_cpu() -> i32 {
        // SAFETY: `sched_getcpu` has no preconditions.
        unsafe { libc::sched_getcpu() }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::sync::Arc;
        use std::sync::mpsc::channel;

        /// The CPU set of thread `tid` (0: the calling thread).
        fn affinity(tid: i32) -> libc::cpu_set_t {
            // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            // SAFETY: `set` is a valid, writable `cpu_set_t` of the size
            // passed; `tid` is a live thread of this process.
            let got =
                unsafe { libc::sched_getaffinity(tid, size_of::<libc::cpu_set_t>(), &mut set) };
            assert_eq!(got, 0);
            set
        }

        fn count(set: &libc::cpu_set_t) -> i32 {
            // SAFETY: `set` is a valid `cpu_set_t`.
            unsafe { libc::CPU_COUNT(set) }
        }

        /// A caller that woke its helper and took its share back moves the
        /// helper off its own CPU, whatever CPU the helper last published;
        /// only once until the helper runs, which widens it back.
        #[test]
        fn a_helper_woken_behind_its_caller_is_moved_off_once() {
            let callers = affinity(0);
            if count(&callers) < 2 {
                return; // one CPU: nowhere to move to
            }
            let placement = Arc::new(Placement::new());
            let (started, go, ran) = (channel(), channel::<()>(), channel());
            let helper = {
                let p = placement.clone();
                std::thread::spawn(move || {
                    p.started();
                    // Published as parked elsewhere: `keep_off_callers_cpu`
                    // alone would not move it.
                    p.cpu.store(-1, Ordering::Relaxed);
                    started.0.send(()).unwrap();
                    go.1.recv().unwrap();
                    p.running();
                    ran.0.send(()).unwrap();
                    go.1.recv().unwrap();
                })
            };
            started.1.recv().unwrap();
            let tid = placement.tid.load(Ordering::Acquire);
            placement.keep_off_callers_cpu();
            assert_eq!(count(&affinity(tid)), count(&callers), "not moved yet");

            placement.woken_behind_caller();
            assert_eq!(count(&affinity(tid)), count(&callers) - 1);
            assert!(placement.narrowed.load(Ordering::Acquire));
            // Narrowed already: a second take-back does not move it again.
            placement.woken_behind_caller();
            assert_eq!(count(&affinity(tid)), count(&callers) - 1);

            // Once it runs, it widens back to the caller's CPUs.
            go.0.send(()).unwrap();
            ran.1.recv().unwrap();
            assert_eq!(count(&affinity(tid)), count(&callers));
            assert!(!placement.narrowed.load(Ordering::Acquire));
            go.0.send(()).unwrap();
            helper.join().unwrap();
        }
    }
}

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
pub(crate) use linux::{CPU_OFFSET, Placement};

/// Elsewhere (and under Miri and loom): nothing to do.
#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
pub(crate) struct Placement;

#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
impl Placement {
    pub(crate) fn new() -> Placement {
        Placement
    }
    pub(crate) fn started(&self) {}
    #[inline]
    pub(crate) fn running(&self) {}
    pub(crate) fn parking(&self) {}
    #[inline]
    pub(crate) fn keep_off_callers_cpu(&self) {}
    pub(crate) fn woken_behind_caller(&self) {}
}
