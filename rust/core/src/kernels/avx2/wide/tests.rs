//! The wide tiles against the AVX2 tiles: the same labels, second scores and panel minima, bit for bit.

use crate::kernels::avx2::{scan_lists_narrow, scan_lists_wide, scan_narrow, scan_wide, Lanes, Packed};
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
        // k = 4: one half-width panel; 1,000: a half-width last panel past three blocks of centres.
        for k in [1, 4, 16, 20, 40, 300, 1000] {
            for m in [1, 11, 12, 13, 24, 100, ROW_BLOCK] {
                for blowup in [false, true] {
                    let (rows, centers, norms) = data::<T>(m, k, d, (d * 1000 + k * 10 + m) as u64, blowup);
                    let packed = Packed::new(&centers, &norms, d);
                    let (mut want, mut want_second) = (vec![0u32; m], vec![0f64; m]);
                    let (mut got, mut got_second) = (vec![7u32; m], vec![7f64; m]);
                    // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked above).
                    unsafe {
                        scan_narrow::<T, true>(&packed, &rows, &mut want, &mut want_second);
                        scan_wide::<T, true>(&packed, &rows, &mut got, &mut got_second);
                    }
                    let case = format!("d = {d}, k = {k}, m = {m}, infinities {blowup}");
                    assert_eq!(got, want, "labels, {case}");
                    assert_eq!(bits(&got_second), bits(&want_second), "second scores, {case}");
                    let mut plain = vec![7u32; m];
                    // SAFETY: as above.
                    unsafe { scan_wide::<T, false>(&packed, &rows, &mut plain, &mut []) };
                    assert_eq!(plain, want, "labels without the second scores, {case}");
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

fn lists_are_the_same<T: Lanes>() {
    if skip() {
        return;
    }
    let nr = 2 * T::LANES;
    for d in [2, 9, 64] {
        for k in [nr / 2, 3 * nr, 5 * nr - 3] {
            for m in [5, 40, GROUPED_ROWS] {
                for blowup in [false, true] {
                    let (rows, centers, norms) = data::<T>(m, k, d, (d * 100 + k + m) as u64, blowup);
                    let packed = Packed::new(&centers, &norms, d);
                    let panels = k.div_ceil(nr);
                    // Centre q of the packing is centre q (padding: i32::MAX).
                    let ids: Vec<i32> = (0..panels * nr).map(|q| if q < k { q as i32 } else { i32::MAX }).collect();
                    // Row r is scanned against panel p at full width when (r + p) % 3 == 0, at half
                    // width when it is 1, not at all when it is 2; every row against panel 0.
                    let lists: Vec<Vec<u32>> = (0..2 * panels)
                        .map(|l| {
                            let (p, half) = (l / 2, l % 2);
                            (0..m as u32).filter(|&r| (r as usize + p) % 3 == half || (p == 0 && half == 0)).collect()
                        })
                        .collect();
                    let flagged: Vec<u32> = (0..m as u32).collect();
                    let run = |wide: bool| {
                        let (mut labels, mut seconds, mut mins) =
                            (vec![0u32; GROUPED_ROWS], vec![0f64; GROUPED_ROWS], vec![0f64; GROUPED_ROWS * panels]);
                        // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked above).
                        unsafe {
                            let f = if wide { scan_lists_wide::<T> } else { scan_lists_narrow::<T> };
                            f(&packed, &ids, &rows, &lists, &flagged, &mut labels, &mut seconds, &mut mins);
                        }
                        (labels, bits(&seconds), bits(&mins))
                    };
                    assert_eq!(run(true), run(false), "d = {d}, k = {k}, m = {m}, infinities {blowup}");
                }
            }
        }
    }
}

#[test]
fn wide_list_scans_have_the_bits_of_the_avx2_tiles_f32() {
    lists_are_the_same::<f32>();
}

#[test]
fn wide_list_scans_have_the_bits_of_the_avx2_tiles_f64() {
    lists_are_the_same::<f64>();
}
