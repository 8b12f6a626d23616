//! The wide scan against the AVX2 scan: the same labels and second scores, bit for bit.

use crate::kernels::avx2::{scan, scan_lists_avx2, scan_lists_wide, scan_wide, Lanes, Packed};
use crate::kernels::parallel::{GROUPED_ROWS, ROW_BLOCK};

/// Small integers (many exact ties), a duplicated centre, and, with `blowup`, a row of infinities.
fn data<T: Lanes>(n: usize, k: usize, d: usize, seed: u64, blowup: bool) -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |range: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % range) as f64
    };
    let mut rows: Vec<T> = (0..n * d).map(|_| T::from_f64(next(7) - 3.0 + next(4) * 0.25)).collect();
    if blowup && n > 1 {
        rows[d..2 * d].fill(T::INFINITY);
    }
    let mut centers: Vec<T> = (0..k * d).map(|_| T::from_f64(next(7) - 3.0)).collect();
    if k >= 3 {
        let first: Vec<T> = centers[..d].to_vec();
        centers[2 * d..3 * d].copy_from_slice(&first);
    }
    let norms =
        centers.chunks_exact(d).map(|c| T::from_f64(c.iter().map(|v| v.to_f64() * v.to_f64()).sum::<f64>())).collect();
    (rows, centers, norms)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|s| s.to_bits()).collect()
}

fn skip() -> bool {
    // Whether the tiles can run, not whether the scans choose them (see `super::available`).
    let skip = !(is_x86_feature_detected!("avx512f") && crate::kernels::avx2::available());
    if skip {
        eprintln!("skipped: this CPU has no AVX-512F");
    }
    skip
}

fn assignment_is_the_same<T: Lanes>() {
    if skip() {
        return;
    }
    for d in [1, 3, 9, 16, 33, 128] {
        // k = 4: one half-width panel (the scans call `scan_wide` only past `wide::worth`, which
        // leaves it to AVX2, but its bits are the same); 16 in float32: one whole panel; 40: an
        // odd number of panels in float32 (three, the last paired with none); 1,000 (float32)
        // and 300 (float64): a half-width last panel past several blocks of centres (a block of
        // 16 or 32 panels is paired within itself). m = 11, 13, 100 and 128 leave 11, 1, 4 and 8
        // rows past the last 12-row tile.
        for k in [1, 4, 16, 20, 40, 300, 1000] {
            for m in [1, 11, 12, 13, 24, 100, ROW_BLOCK] {
                for blowup in [false, true] {
                    let (rows, centers, norms) = data::<T>(m, k, d, (d * 1000 + k * 10 + m) as u64, blowup);
                    let packed = Packed::new(&centers, &norms, d);
                    let (mut want, mut want_second) = (vec![0u32; m], vec![0f64; m]);
                    let (mut got, mut got_second) = (vec![7u32; m], vec![7f64; m]);
                    // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked above).
                    unsafe {
                        scan::<T, true>(&packed, &rows, None, &mut want, &mut want_second);
                        scan_wide::<T, true>(&packed, &rows, None, &mut got, &mut got_second);
                    }
                    let case = format!("d = {d}, k = {k}, m = {m}, infinities {blowup}");
                    assert!(got == want, "labels, {case}");
                    assert!(bits(&got_second) == bits(&want_second), "second scores, {case}");
                    let mut plain = vec![7u32; m];
                    // SAFETY: as above.
                    unsafe { scan_wide::<T, false>(&packed, &rows, None, &mut plain, &mut []) };
                    assert!(plain == want, "labels without the second scores, {case}");
                }
            }
        }
    }
}

#[test]
fn wide_assignment_has_the_bits_of_the_avx2_tiles_f32() {
    assignment_is_the_same::<f32>();
}

#[test]
fn wide_assignment_has_the_bits_of_the_avx2_tiles_f64() {
    assignment_is_the_same::<f64>();
}

/// `scan_lists` with and without the AVX-512 tiles: every row in a few panels' lists (some at
/// half width), or in every panel's (the pair tile), the centres packed out of index order (ties
/// then go by index, not lane).
fn listed_scan_is_the_same<T: Lanes>() {
    if skip() {
        return;
    }
    let nr = 2 * T::LANES;
    for d in [1, 3, 16, 33, 128] {
        for k in [16, 20, 40, 300] {
            for m in [1, 5, 12, 13, 25, 100, GROUPED_ROWS - 1] {
                // Lists drawn row by row, or (the first pass's) every row against every panel.
                for (blowup, every) in [(false, false), (true, false), (false, true), (true, true)] {
                    let (rows, centers, norms) = data::<T>(m, k, d, (d * 1000 + k * 10 + m) as u64, blowup);
                    let packed = Packed::new(&centers, &norms, d);
                    let panels = k.div_ceil(nr);
                    // Packed position q holds centre k - 1 - q: the reverse of the index order.
                    let mut ids: Vec<i32> = (0..k as i32).rev().collect();
                    ids.resize(panels * nr, i32::MAX);
                    // Row r goes to panel p's full list, its half list, or neither.
                    let mut lists = vec![Vec::new(); 2 * panels];
                    for r in 0..m as u32 {
                        for p in 0..panels {
                            match if every { 0 } else { (r as usize * 7 + p * 3 + d) % 4 } {
                                0 | 1 => lists[2 * p].push(r),
                                2 => lists[2 * p + 1].push(r),
                                _ => {}
                            }
                        }
                    }
                    let mut flagged: Vec<u32> = lists.iter().flatten().copied().collect();
                    flagged.sort_unstable();
                    flagged.dedup();
                    let run = |wide: bool| {
                        let (mut labels, mut seconds) = (vec![7u32; m], vec![7f64; m]);
                        let mut panel_min = vec![7f64; m * panels];
                        // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked above).
                        unsafe {
                            let f = if wide { scan_lists_wide::<T> } else { scan_lists_avx2::<T> };
                            f(&packed, &ids, &rows, &lists, &flagged, &mut labels, &mut seconds, &mut panel_min);
                        }
                        (labels, bits(&seconds), bits(&panel_min))
                    };
                    let case = format!("d = {d}, k = {k}, m = {m}, infinities {blowup}, every row {every}");
                    let (want, got) = (run(false), run(true));
                    assert!(got.0 == want.0, "labels, {case}");
                    assert!(got.1 == want.1, "second scores, {case}");
                    assert!(got.2 == want.2, "each panel's smallest score, {case}");
                }
            }
        }
    }
}

#[test]
fn wide_listed_scan_has_the_bits_of_the_avx2_tiles_f32() {
    listed_scan_is_the_same::<f32>();
}

#[test]
fn wide_listed_scan_has_the_bits_of_the_avx2_tiles_f64() {
    listed_scan_is_the_same::<f64>();
}
