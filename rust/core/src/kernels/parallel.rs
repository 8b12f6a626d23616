//! When splitting work across threads pays.
//!
//! Waking rayon's workers costs microseconds; a task of a few thousand multiply-adds costs less.
//! Parallel loops over small inputs therefore give each task at least `MIN_TASK_WORK` units of
//! work (≈ multiply-adds), so that tiny problems (a 500-row mini-batch against 10 centres) run
//! inline on the calling thread. (k-means++, whose steps come back to back while the workers are
//! awake, splits at a quarter of that: `algo::kmeanspp`.) Task boundaries never change results:
//! every output element is computed from its own inputs alone.

/// Rows per tile, per rayon task and per seeding block: every kernel cuts rows at these fixed
/// boundaries, whatever the thread count.
pub const ROW_BLOCK: usize = 128;
/// Rows the grouped bounded pass ([`crate::kernels::yinyang`]) filters and scans together: a
/// group's list of rows to scan gathers from this many, so that its tiles are mostly full.
pub const GROUPED_ROWS: usize = 4 * ROW_BLOCK;
/// Centres per tile: a 128 × 256 f32 tile is 128 KiB, comfortably inside a 512 KiB L2.
pub const CENTER_BLOCK: usize = 256;

/// Work per rayon task below which splitting further costs more than it saves.
pub const MIN_TASK_WORK: usize = 1 << 16;

/// The `with_min_len` for a parallel iterator whose items each cost `work_per_item`.
pub fn min_items(work_per_item: usize) -> usize {
    items_per_task(MIN_TASK_WORK, work_per_item)
}

/// The `with_min_len` that gives each task at least `task_work` units when its items each cost
/// `work_per_item` (at least one item).
pub fn items_per_task(task_work: usize, work_per_item: usize) -> usize {
    (task_work / work_per_item.max(1)).max(1)
}

/// Values per chunk when scanning a whole buffer for a bad value.
const SCAN_CHUNK: usize = 1 << 16;
/// Chunks per task of that scan, at least: a buffer of fewer than twice as many (rayon splits a
/// range only into halves of at least this many chunks; 2¹⁹ values) is scanned on one thread,
/// where waking a sleeping worker for the other half cost more than the half itself (digits,
/// 115,008 values: 22 µs back to back, about 70 µs inside a fit, where the worker had gone to
/// sleep).
const SCAN_CHUNKS_PER_TASK: usize = 4;

/// The position of the first value for which `bad` holds, if any. Chunks are scanned whole (a
/// branch-free loop at memory speed), in parallel; only the first chunk holding a bad value is
/// searched for it.
pub fn first_position<T: Sync>(values: &[T], bad: impl Fn(&T) -> bool + Sync) -> Option<usize> {
    use rayon::prelude::*;
    let chunk = values
        .par_chunks(SCAN_CHUNK)
        .with_min_len(SCAN_CHUNKS_PER_TASK)
        .position_first(|c| c.iter().fold(false, |b, v| b | bad(v)))?;
    let start = chunk * SCAN_CHUNK;
    values[start..].iter().position(bad).map(|p| start + p)
}
