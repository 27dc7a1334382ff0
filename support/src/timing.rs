//! What the measuring harnesses share to time calls: batches of
//! back-to-back calls and medians.

use std::time::Instant;

/// How many calls a batch over an input of `bytes` makes: about 32 MB of
/// input in all, at least 20 calls (on a shared machine the first few
/// calls after other work run slow) and at most 20,000.
///
/// ```
/// use regnorm_support::timing::calls_for;
/// assert_eq!(calls_for(8_000), 4_000);
/// assert_eq!(calls_for(0), 20_000);
/// assert_eq!(calls_for(1 << 30), 20);
/// ```
pub fn calls_for(bytes: usize) -> usize {
    (32_000_000 / bytes.max(1)).clamp(20, 20_000)
}

/// Seconds per call over one batch of `calls` back-to-back calls of `f`.
///
/// ```
/// use regnorm_support::timing::seconds_per_call;
/// let mut n = 0;
/// let t = seconds_per_call(10, || n += 1);
/// assert_eq!(n, 10);
/// assert!(t >= 0.0);
/// ```
pub fn seconds_per_call(calls: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_secs_f64() / calls.max(1) as f64
}

/// The median of `v` (of an even count, the upper middle value).
///
/// ```
/// use regnorm_support::timing::median;
/// assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
/// assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
/// ```
///
/// # Panics
/// If `v` is empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
