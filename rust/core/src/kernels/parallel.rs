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

/// Whether `bad` holds for any of `values`: every value tested, without a branch, so that the
/// loop vectorises; compiled for AVX-512 where the CPU has it, whatever the AVX-512 tiles' switch
/// (`avx2::wide_available`) says: the answer is the same either way, and only the tiles' speed
/// was measured to differ by CPU. Measured (digits' 115,008 float64 values, best of 2,500 calls
/// from Python, the two ways taking turns): 8.6–12.2 µs against 27.8–40.1 for the baseline
/// x86-64 build; AVX2 alone gained little (31.8 µs).
fn any<T>(values: &[T], bad: &impl Fn(&T) -> bool) -> bool {
    #[inline(always)]
    fn fold<T>(values: &[T], bad: &impl Fn(&T) -> bool) -> bool {
        values.iter().fold(false, |b, v| b | bad(v))
    }
    #[cfg(target_arch = "x86_64")]
    {
        /// [`fold`] compiled for AVX-512.
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
        unsafe fn fold_avx512<T>(values: &[T], bad: &impl Fn(&T) -> bool) -> bool {
            fold(values, bad)
        }
        let wide = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vl");
        if wide {
            // SAFETY: the CPU has these features.
            return unsafe { fold_avx512(values, bad) };
        }
    }
    fold(values, bad)
}

/// The position of the first value for which `bad` holds, if any. Chunks are scanned whole (a
/// branch-free loop at memory speed), in parallel; only the first chunk holding a bad value is
/// searched for it.
pub fn first_position<T: Sync>(values: &[T], bad: impl Fn(&T) -> bool + Sync) -> Option<usize> {
    use rayon::prelude::*;
    let chunk = values.par_chunks(SCAN_CHUNK).with_min_len(SCAN_CHUNKS_PER_TASK).position_first(|c| any(c, &bad))?;
    let start = chunk * SCAN_CHUNK;
    values[start..].iter().position(bad).map(|p| start + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bad_value_is_found_in_any_chunk_and_lane() {
        // Three chunks and a part; bad values at the edges of chunks and of vector lanes.
        let n = 3 * SCAN_CHUNK + 77;
        for at in [0, 1, 7, 8, 15, SCAN_CHUNK - 1, SCAN_CHUNK, 2 * SCAN_CHUNK + 3, n - 1] {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut values = vec![1.5f64; n];
                values[at] = bad;
                // A later bad value does not hide the first.
                if at + 1 < n {
                    values[n - 1] = f64::NAN;
                }
                assert_eq!(first_position(&values, |v| !v.is_finite()), Some(at), "{bad} at {at}");
                let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
                assert_eq!(first_position(&values, |v| !v.is_finite()), Some(at), "{bad} at {at}, float32");
            }
        }
        let finite = vec![f64::MAX; n];
        assert_eq!(first_position(&finite, |v| !v.is_finite()), None);
        let indices: Vec<i64> = (0..n as i64).map(|i| i % 5).collect();
        assert_eq!(first_position(&indices, |&j| j >= 4), Some(4));
    }
}
