//! The one kernel body every SIMD tier instantiates.
//!
//! It runs a pass ([`Rows`]) over a run of blocks, computing steps 1 to 4 of
//! the canonical order ([`crate::order`]) exactly; the scalar tier computes
//! the same steps with plain loops.
//!
//! **Framing.** Slices rarely start on a register boundary (a large `Vec`'s
//! data sits 16 bytes past one), and a 64-byte load that straddles two cache
//! lines costs bandwidth. So the body (for passes of at least
//! [`FRAMED_ROWS`] rows) cuts each block into *frame rows* that
//! start `m` elements before a multiple of `L`, where `m` is the slice's
//! misalignment in elements: full frame rows are aligned, and the first and
//! last rows of a block are masked to the block. Frame lane `p` then holds
//! the elements `≡ p − m (mod L)`, in order, so it accumulates exactly what
//! canonical lane `(p − m) mod L` does; and the fold tree gives the same bits
//! for rotated lanes (see [`fold_tree`](crate::order::fold_tree)). The sums
//! are unchanged, bit for bit.

use super::Totals;
use super::lanes::Group;
use super::ops::{Rows, Terms};
use crate::order::ROWS;

/// How far ahead of the row being read the body asks for data, in
/// elements: far enough to hide the latency of the last-level cache and of
/// DRAM, which the hardware prefetchers alone do not (measurements and how
/// to rerun them: docs/kernels.md, "Prefetch distance").
const PREFETCH_AHEAD: usize = 1024;

/// Passes of fewer rows than this are read unframed, from their first
/// element (full rows may then straddle cache lines): for a tensor of a
/// few rows, the masked head row that framing adds costs more than the
/// straddling loads. Speed only: the bits are the same either way
/// (docs/kernels.md, "Small tensors").
const FRAMED_ROWS: usize = 8;

/// Whether the body prefetches (off only in a `regnorm_no_prefetch` build).
const PREFETCH: bool = !cfg!(regnorm_no_prefetch);

/// A thread's share of a tensor of at least this many bytes is *streamed*:
/// read with software prefetch, one block at a time. Smaller shares sit in
/// a core's L2 (1 MiB on Zen 4/5, 2 MiB on recent Xeons) after the first
/// call, where the prefetch instructions only cost issue slots and two
/// blocks side by side hide the additions' latency.
pub(crate) const STREAM_BYTES: usize = 2 << 20;

/// Runs `rows` and reduces what it returns: Σ|v| if `ABS`, Σv² if `SQ`, and
/// the zeros if the pass counts them; the sums not asked for are `0`. The
/// totals of each run of `chunk` elements (a multiple of the block length:
/// the super-chunks) go to `out`, in order; `out` holds exactly one per
/// chunk.
/// `stream` asks for software prefetch (see [`STREAM_BYTES`]): speed only.
///
/// # Safety
/// The CPU must support the instructions of the tier `G` belongs to.
#[inline(always)]
pub(crate) unsafe fn run<G, R, const ABS: bool, const SQ: bool>(
    rows: &mut R,
    stream: bool,
    chunk: usize,
    out: &mut [Totals],
) where
    G: Group,
    R: Rows<Elem = G::Elem>,
{
    let mut local = rows.local();
    let rows = &mut local;
    let (len, lanes) = (rows.len(), G::LANES);
    // The misalignment in elements; less than L since G::ALIGN is at most
    // the group's size in bytes.
    let m = if len >= FRAMED_ROWS * lanes {
        (rows.frame() % G::ALIGN) / size_of::<G::Elem>()
    } else {
        0
    };
    debug_assert!(m < lanes);
    debug_assert!(chunk.is_multiple_of(ROWS * lanes) && out.len() == len.div_ceil(chunk));
    let (mut total, mut done) = (Totals::ZERO, 0);
    let block_len = ROWS * lanes;
    if len <= block_len {
        // One block or none: a small tensor, or a model's small tensors in
        // turn (`Work::Each`), without the super-chunk bookkeeping below.
        if len > 0 {
            // SAFETY: the block 0..len is the pass; features: the caller.
            unsafe { blocks::<G, _, ABS, SQ, 1>(rows, &mut total, 0, len, m, stream) };
            write_totals(&mut out[0], total);
        }
        return;
    }
    // Where the current super-chunk ends (kept as a running bound: `chunk`
    // is not a constant, so `block % chunk` would divide once per block).
    let (mut block, mut chunk_end) = (0, len.min(chunk));
    while block < len {
        // Two blocks side by side where the tier has the registers for both
        // (AVX-512) and the input sits in cache, where the additions'
        // latency, not the memory, bounds the loop; both inside the current
        // super-chunk. SAFETY: `blocks` reads from `block` to the block (or
        // pair) end it returns, inside the pass; features: the caller.
        block = unsafe {
            if G::REGISTERS >= 32 && !stream && block + 2 * block_len <= chunk_end {
                blocks::<G, _, ABS, SQ, 2>(rows, &mut total, block, block + block_len, m, stream)
            } else {
                let end = len.min(block + block_len);
                blocks::<G, _, ABS, SQ, 1>(rows, &mut total, block, end, m, stream)
            }
        };
        if block == chunk_end {
            write_totals(&mut out[done], total);
            done += 1;
            total = Totals::ZERO;
            chunk_end = len.min(chunk_end + chunk);
        }
    }
}

/// Reduces the `K` blocks from `block` (the first ends at `end`; with
/// `K = 2` both are full) into `total`, each block's lanes folded and added
/// in order, and returns where the next block starts. The blocks' rows are
/// read side by side, row `r` of each in turn: their lanes are independent
/// sums, so a tier with the registers for both (AVX-512) keeps twice as
/// many additions in flight as one block's `L` lanes allow, with the same
/// bits.
///
/// # Safety
/// The blocks lie inside the pass; the CPU must support the instructions
/// of the tier `G` belongs to.
#[inline(always)]
unsafe fn blocks<G, R, const ABS: bool, const SQ: bool, const K: usize>(
    rows: &mut R,
    total: &mut Totals,
    block: usize,
    end: usize,
    m: usize,
    stream: bool,
) -> usize
where
    G: Group,
    R: Rows<Elem = G::Elem>,
{
    let lanes = G::LANES;
    let stride = (ROWS * lanes) as isize;
    // SAFETY: every row below covers lanes lo..hi with elements
    // start + lo .. start + hi inside block..end of its block, so inside the
    // pass; features: the caller.
    unsafe {
        let mut sums = [(G::zero(), G::zero()); K];
        let mut start = block as isize - m as isize;
        let end_i = end as isize;
        if m > 0 {
            let hi = ((end_i - start) as usize).min(lanes);
            for (k, sums) in sums.iter_mut().enumerate() {
                let at = start + k as isize * stride;
                step::<G, _, ABS, SQ>(rows, sums, &mut total.zeros, at, m, hi, rows.terms());
            }
            start += lanes as isize;
        }
        if PREFETCH && stream {
            start = full_rows::<G, _, ABS, SQ, K, true>(rows, &mut sums, total, start, end_i);
        } else {
            start = full_rows::<G, _, ABS, SQ, K, false>(rows, &mut sums, total, start, end_i);
        }
        if start < end_i {
            let hi = (end_i - start) as usize;
            for (k, sums) in sums.iter_mut().enumerate() {
                let at = start + k as isize * stride;
                step::<G, _, ABS, SQ>(rows, sums, &mut total.zeros, at, 0, hi, rows.terms());
            }
        }
        for sums in sums {
            if ABS {
                total.sums.abs += sums.0.fold();
            }
            if SQ {
                total.sums.sq += sums.1.fold();
            }
        }
    }
    block + K * (end - block)
}

/// Writes a super-chunk's totals to `out`. On x86_64 the two sums go in
/// one 16-byte store: the caller reads them back as one 16-byte value just
/// after the kernel returns, and a load that spans two separate stores
/// cannot take its data from the store buffer (it waits until both reach
/// the cache).
#[inline(always)]
fn write_totals(out: &mut Totals, total: Totals) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_set_pd, _mm_storeu_pd};
        // SAFETY: SSE2 is part of x86_64; `Sums` is `repr(C)`, `abs` then
        // `sq`: the 16 bytes written.
        unsafe {
            _mm_storeu_pd(
                (&raw mut out.sums).cast::<f64>(),
                _mm_set_pd(total.sums.sq, total.sums.abs),
            );
        }
        out.zeros = total.zeros;
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        *out = total;
    }
}

/// Runs the full frame rows from `start` while they end by `end`, each in
/// the `K` blocks side by side, asking for the data [`PREFETCH_AHEAD`]
/// elements ahead if `PREFETCH`; returns where the next row starts.
///
/// The row loop is compiled once per combination of the pass's optional
/// terms ([`Rows::terms`]), each with its terms as a constant: the rows
/// then test none of them (a pass without optional terms has one loop).
///
/// # Safety
/// As for [`Rows::row`], for every full row in `start..end` and the same
/// rows of the next `K - 1` blocks.
#[inline(always)]
unsafe fn full_rows<G, R, const ABS: bool, const SQ: bool, const K: usize, const PREFETCH: bool>(
    rows: &mut R,
    sums: &mut [(G, G); K],
    total: &mut Totals,
    start: isize,
    end: isize,
) -> isize
where
    G: Group,
    R: Rows<Elem = G::Elem>,
{
    let run = full_rows_with::<G, R, ABS, SQ, K, PREFETCH>;
    // SAFETY: as for this function (the caller).
    unsafe {
        match rows.terms() {
            0 => run(rows, sums, total, start, end, 0),
            1 => run(rows, sums, total, start, end, 1),
            2 => run(rows, sums, total, start, end, 2),
            _ => run(rows, sums, total, start, end, 3),
        }
    }
}

/// [`full_rows`] with the pass's terms given (a constant where inlined).
///
/// # Safety
/// As for [`full_rows`]; `terms` is `rows.terms()`.
#[inline(always)]
unsafe fn full_rows_with<
    G,
    R,
    const ABS: bool,
    const SQ: bool,
    const K: usize,
    const PREFETCH: bool,
>(
    rows: &mut R,
    sums: &mut [(G, G); K],
    total: &mut Totals,
    mut start: isize,
    end: isize,
    terms: Terms,
) -> isize
where
    G: Group,
    R: Rows<Elem = G::Elem>,
{
    let lanes = G::LANES as isize;
    let stride = (ROWS * G::LANES) as isize;
    // Counted, not `while start + lanes <= end`: the loop then costs one
    // increment and one compare-and-branch per row, not four instructions.
    let full = (end - start).max(0) as usize / G::LANES;
    for _ in 0..full {
        for (k, sums) in sums.iter_mut().enumerate() {
            let at = start + k as isize * stride;
            if PREFETCH {
                rows.prefetch::<G>(at + PREFETCH_AHEAD as isize);
            }
            // SAFETY: the row at..at + L lies inside its block (loop
            // condition), so inside the pass (caller); features: the caller.
            unsafe { step::<G, _, ABS, SQ>(rows, sums, &mut total.zeros, at, 0, G::LANES, terms) };
        }
        start += lanes;
    }
    start
}

/// Runs one frame row (lanes `lo..hi` from element `start`, with the pass's
/// `terms`) and adds |v| to the abs lanes and v² (a fused multiply-add) to
/// the square lanes, and counts the pass's zeros if it asks.
///
/// Inlined everywhere in an optimized build. A build with debug assertions
/// calls it instead: unoptimized, each temporary has its own stack slot,
/// and inlined into every loop shape that runs a row they made one kernel
/// instance's frame larger than a thread's stack (docs/kernels.md, "Stack
/// frames in debug builds"). The same operations run, so the same bits;
/// only slower where the build also optimizes (`cargo fuzz`: called, it
/// runs without the tier's features).
///
/// # Safety
/// As for [`Rows::row`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
unsafe fn step<G, R, const ABS: bool, const SQ: bool>(
    rows: &mut R,
    sums: &mut (G, G),
    zeros: &mut usize,
    start: isize,
    lo: usize,
    hi: usize,
    terms: Terms,
) where
    G: Group,
    R: Rows<Elem = G::Elem>,
{
    // SAFETY: the caller guarantees the row's bounds and the CPU features.
    unsafe {
        let v = rows.row::<G>(start, lo, hi, terms);
        if ABS {
            sums.0 = sums.0.add(v.abs());
        }
        if SQ {
            sums.1 = v.add_square_to(sums.1);
        }
        if R::COUNTS_ZEROS {
            *zeros += v.count_zeros(lo, hi) as usize;
        }
    }
}
