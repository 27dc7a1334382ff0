//! Keeping a helper off the caller's CPU (Linux).
//!
//! A split is only faster than one thread if the caller and the helper run
//! on different CPUs. When a new thread starts calling (a rayon worker
//! woken by `install`, say), the scheduler may put it on the CPU where the
//! helper is polling; the two then time-share that CPU while another idles
//! until the load balancer moves one of them, which takes milliseconds,
//! and every call in between runs at one thread's speed (the caller takes
//! its unstarted share back). So each helper publishes the CPU it polls
//! on, and a caller that finds a helper on its own CPU moves the helper
//! elsewhere: it narrows the helper's CPU set to the process's (as the
//! helper inherited it) without the caller's CPU, which the kernel applies
//! at once. Only regnorm's own helper threads are moved, never the caller.
//!
//! Elsewhere than Linux this is a no-op.

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

    /// Where one helper thread runs, and what it may run on. `repr(C)`
    /// keeps `cpu`, which a caller reads at every hand-off, among the first
    /// bytes (Rust's own layout would put it after the 128-byte CPU mask),
    /// so that it shares the mailbox's first cache line (see
    /// `crew::Helper`).
    #[repr(C)]
    pub(crate) struct Placement {
        /// The helper's thread id, once it has started; 0 before.
        tid: AtomicI32,
        /// The CPU the helper last ran or parked on, or -1 when unknown
        /// (before it starts, and after a move until it runs again).
        cpu: AtomicI32,
        /// The CPUs the helper inherited, as the kernel's mask.
        allowed: std::sync::OnceLock<libc::cpu_set_t>,
        /// Set by a caller that narrowed the helper's CPUs; the helper then
        /// widens them back once it runs elsewhere, so that it is never
        /// pinned for long.
        narrowed: AtomicBool,
    }

    /// Where `cpu` sits in a `Placement`.
    pub(crate) const CPU_OFFSET: usize = std::mem::offset_of!(Placement, cpu);

    impl Placement {
        pub(crate) const fn new() -> Placement {
            Placement {
                tid: AtomicI32::new(0),
                cpu: AtomicI32::new(-1),
                allowed: std::sync::OnceLock::new(),
                narrowed: AtomicBool::new(false),
            }
        }

        /// Called on the helper thread when it starts.
        pub(crate) fn started(&self) {
            // SAFETY: `gettid` has no preconditions.
            let tid = unsafe { libc::gettid() };
            // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            // SAFETY: `set` is a valid, writable `cpu_set_t` of the size
            // passed; pid 0 is the calling thread.
            let got = unsafe {
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
            };
            if got == 0 {
                let _ = self.allowed.set(set);
            }
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
            if self.narrowed.load(Ordering::Relaxed) {
                self.widen();
            }
        }

        #[cold]
        fn widen(&self) {
            self.narrowed.store(false, Ordering::Relaxed);
            if let Some(allowed) = self.allowed.get() {
                // SAFETY: `allowed` is a valid `cpu_set_t` of the size
                // passed; pid 0 is this (helper) thread.
                unsafe {
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), allowed);
                }
            }
        }

        /// Called on the helper thread before it parks: it keeps the CPU it
        /// parks on, where the scheduler most often wakes it. A helper that
        /// shares a CPU with its caller polls only while the caller is off
        /// that CPU, parks before the caller runs again, and is woken back
        /// onto the caller's CPU by the caller's next post; marking it
        /// unknown here would hide it from the caller's check forever.
        pub(crate) fn parking(&self) {
            self.cpu.store(current_cpu(), Ordering::Relaxed);
        }

        /// Called by a caller about to hand the helper work: if the helper
        /// polls (or parked) on the caller's CPU, move it off it (a parked
        /// helper then wakes elsewhere).
        #[inline]
        pub(crate) fn keep_off_callers_cpu(&self) {
            let helper_cpu = self.cpu.load(Ordering::Relaxed);
            if helper_cpu < 0 {
                return;
            }
            let caller_cpu = current_cpu();
            if caller_cpu == helper_cpu {
                self.move_off(caller_cpu);
            }
        }

        #[cold]
        fn move_off(&self, cpu: i32) {
            let (tid, Some(allowed)) = (self.tid.load(Ordering::Acquire), self.allowed.get())
            else {
                return;
            };
            let Ok(cpu) = usize::try_from(cpu) else {
                return;
            };
            let mut set = *allowed;
            // SAFETY: `set` is a valid `cpu_set_t`; CPU_CLR ignores indices
            // past its size.
            unsafe { libc::CPU_CLR(cpu, &mut set) };
            // SAFETY: `set` is a valid `cpu_set_t`.
            if tid == 0 || unsafe { libc::CPU_COUNT(&set) } == 0 {
                return;
            }
            // SAFETY: `set` is a valid `cpu_set_t` of the size passed, and
            // `tid` is our own helper thread, which lives as long as the
            // process. A failure (a CPU set the kernel refuses) leaves the
            // helper where it is.
            let moved = unsafe {
                libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set)
            };
            if moved == 0 {
                self.narrowed.store(true, Ordering::Relaxed);
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
}

#[cfg(target_os = "linux")]
pub(crate) use linux::{CPU_OFFSET, Placement};

/// Elsewhere: nothing to do.
#[cfg(not(target_os = "linux"))]
pub(crate) struct Placement;

#[cfg(not(target_os = "linux"))]
impl Placement {
    pub(crate) const fn new() -> Placement {
        Placement
    }
    pub(crate) fn started(&self) {}
    #[inline]
    pub(crate) fn running(&self) {}
    pub(crate) fn parking(&self) {}
    #[inline]
    pub(crate) fn keep_off_callers_cpu(&self) {}
}
