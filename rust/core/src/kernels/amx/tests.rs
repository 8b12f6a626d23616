//! The AMX filter against the exact kernel: the same labels on ties, near-ties and rows out of
//! its reach, and bounds below the exact scores.

use super::{available, label_rows, Lower, Packed};
use crate::kernels::avx2::{self, assign_rows};
use crate::kernels::distance::squared_norms;
use crate::kernels::points::Points;

/// A generator of test data: xorshift, uniform in [0, 1).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The exact kernel's squared norms.
fn norms(centers: &[f32], d: usize) -> Vec<f32> {
    squared_norms(Points::from_rows(centers, d).unwrap())
}

/// The filter's labels (rows it leaves to the exact kernel relabelled by it, as
/// `Kernel::label_block` does) and the exact kernel's.
fn both(rows: &[f32], centers: &[f32], d: usize) -> (Vec<u32>, Vec<u32>) {
    let norms = norms(centers, d);
    let exact = avx2::Packed::new(centers, &norms, d);
    let tiles = Packed::new(centers, &norms, d).expect("finite centres");
    let m = rows.len() / d;
    let (mut want, mut got) = (vec![0u32; m], vec![7u32; m]);
    for (block, (want, got)) in want.chunks_mut(128).zip(got.chunks_mut(128)).enumerate() {
        let x = &rows[block * 128 * d..(block * 128 + want.len()) * d];
        // SAFETY: the CPU runs the filter (the callers check `available`), so it has AVX2.
        unsafe {
            assign_rows(&exact, x, want);
            label_rows(&tiles, centers, x, got, None, None);
            for (r, label) in got.iter_mut().enumerate().filter(|(_, l)| **l == u32::MAX) {
                assign_rows(&exact, &x[r * d..(r + 1) * d], std::slice::from_mut(label));
            }
        }
    }
    (want, got)
}

fn skip() -> bool {
    let skip = !available();
    if skip {
        eprintln!("skipped: this CPU or OS does not run AMX (or FASTKMEANS_DISABLE_AMX=1)");
    }
    skip
}

#[test]
fn small_integers_tie_and_get_the_lowest_index() {
    if skip() {
        return;
    }
    // Values on a grid of quarters are exact in bfloat16, so equal scores are common: the
    // ties go through the rescoring, whose order must be the exact kernel's.
    for (d, k, m) in [(24, 64, 100), (32, 65, 128), (33, 100, 31), (128, 1000, 300), (200, 70, 33)] {
        let mut draw = Draw((d * 7919 + k * 31 + m) as u64 | 1);
        let rows: Vec<f32> = (0..m * d).map(|_| ((draw.next() * 7.0).floor() - 3.0) as f32 * 0.25).collect();
        let mut centers: Vec<f32> = (0..k * d).map(|_| ((draw.next() * 3.0).floor() - 1.0) as f32).collect();
        let first = centers[..d].to_vec();
        centers[5 * d..6 * d].copy_from_slice(&first);
        let (want, got) = both(&rows, &centers, d);
        assert_eq!(got, want, "d = {d}, k = {k}, m = {m}");
    }
}

#[test]
fn near_ties_between_blobs_are_the_exact_kernels() {
    if skip() {
        return;
    }
    // Rows halfway between two centres (plus noise down to float32's last bits), centres
    // far from the origin (scores that cancel), and centres close together: rows the
    // filter cannot decide, many of them by less than its margin.
    for (d, k, m, offset, spread) in
        [(24, 64, 257, 0.0, 1e-3), (128, 1000, 600, 0.0, 1e-6), (100, 200, 300, 1000.0, 1e-4), (64, 96, 200, 5.0, 0.0)]
    {
        let mut draw = Draw((d * 13 + k) as u64 | 1);
        let centers: Vec<f32> = (0..k * d).map(|_| (offset + draw.next() * 4.0) as f32).collect();
        let mut rows = Vec::with_capacity(m * d);
        for r in 0..m {
            let (a, b) = ((r * 7) % k, (r * 13 + 1) % k);
            for p in 0..d {
                let mid = 0.5 * (f64::from(centers[a * d + p]) + f64::from(centers[b * d + p]));
                let noise = spread * (draw.next() - 0.5) * if r % 3 == 0 { 0.0 } else { 1.0 };
                rows.push((mid + noise) as f32);
            }
        }
        let (want, got) = both(&rows, &centers, d);
        assert_eq!(got, want, "d = {d}, k = {k}, offset = {offset}");
    }
}

#[test]
fn rows_out_of_the_filters_reach_go_to_the_exact_kernel() {
    if skip() {
        return;
    }
    let (d, k, m) = (40, 80, 70);
    let mut draw = Draw(99);
    let centers: Vec<f32> = (0..k * d).map(|_| draw.next() as f32).collect();
    let mut rows: Vec<f32> = (0..m * d).map(|_| draw.next() as f32).collect();
    rows[3 * d] = f32::INFINITY;
    rows[5 * d + 7] = f32::NAN;
    rows[8 * d..9 * d].fill(1e35);
    rows[9 * d..10 * d].fill(-1e20);
    rows[11 * d + 2] = 1e-40;
    let (want, got) = both(&rows, &centers, d);
    assert_eq!(got, want);
    // Centres the filter cannot bound are refused.
    let mut huge = centers.clone();
    huge[0] = 1e30;
    assert!(Packed::new(&huge, &norms(&huge, d), d).is_none());
}

#[test]
fn the_full_scans_bounds_are_below_the_exact_scores() {
    if skip() {
        return;
    }
    // Centres packed out of index order (`ids`), with copies (ties across panels), and k
    // not a whole number of panels: labels by the lowest index, bounds below every exact
    // score they bound, and not far below (the margin is of the bfloat16 rounding's size).
    let (d, k, m) = (48, 150, 140);
    let mut draw = Draw(5);
    let mut centers: Vec<f32> = (0..k * d).map(|_| ((draw.next() * 5.0).floor() - 2.0) as f32).collect();
    for j in (7..k).step_by(7) {
        centers.copy_within((j - 3) * d..(j - 2) * d, j * d);
    }
    let grid: Vec<f32> = (0..m * d).map(|_| ((draw.next() * 9.0).floor() - 4.0) as f32 * 0.5).collect();
    // Rows a hair from halfway between two centres: the smallest approximate score is often
    // not the label's.
    let halfway: Vec<f32> = (0..m * d)
        .map(|i| {
            let (r, p) = (i / d, i % d);
            let (a, b) = ((r * 11) % k, (r * 5 + 2) % k);
            0.5 * (centers[a * d + p] + centers[b * d + p]) + (draw.next() as f32 - 0.5) * 1e-4
        })
        .collect();
    for rows in [grid, halfway] {
        bounds_hold(&centers, &rows, d);
    }
}

fn bounds_hold(centers: &[f32], rows: &[f32], d: usize) {
    let (k, m) = (centers.len() / d, rows.len() / d);
    let ids: Vec<i32> = (0..k as i32).map(|j| (j * 37) % k as i32).collect();
    let norms = norms(centers, d);
    let tiles = Packed::new(centers, &norms, d).unwrap();
    let panels = k.div_ceil(16);
    let (mut labels, mut seconds, mut panel_min) = (vec![0u32; m], vec![0f64; m], vec![0f64; m * panels]);
    for (b, block) in rows.chunks(128 * d).enumerate() {
        let n = block.len() / d;
        let lower = Lower {
            seconds: &mut seconds[b * 128..b * 128 + n],
            panel_min: &mut panel_min[b * 128 * panels..(b * 128 + n) * panels],
        };
        // SAFETY: the CPU runs the filter (checked above).
        let left =
            unsafe { label_rows(&tiles, centers, block, &mut labels[b * 128..b * 128 + n], Some(&ids), Some(lower)) };
        assert_eq!(left, 0);
    }
    for r in 0..m {
        let x = &rows[r * d..(r + 1) * d];
        // The exact kernel's score: float32 multiply-adds in feature order.
        let score = |j: usize| {
            let dot = x.iter().zip(&centers[j * d..(j + 1) * d]).fold(0f32, |acc, (&a, &b)| a.mul_add(b, acc));
            f64::from(dot.mul_add(-2.0, norms[j]))
        };
        let best = (0..k).map(|j| (score(j), ids[j])).fold((f64::INFINITY, i32::MAX), |a, b| if b < a { b } else { a });
        assert_eq!(ids[labels[r] as usize], best.1, "row {r}");
        let mut others = f64::INFINITY;
        for j in (0..k).filter(|&j| j != labels[r] as usize) {
            assert!(panel_min[r * panels + j / 16] <= score(j), "row {r}, centre {j}");
            others = others.min(score(j));
        }
        assert!(panel_min[r * panels + labels[r] as usize / 16] <= best.0);
        assert!(seconds[r] <= others && others - seconds[r] < 2.0, "row {r}: {} against {others}", seconds[r]);
    }
}

#[test]
fn gaussian_blobs_are_the_exact_kernels() {
    if skip() {
        return;
    }
    // compare.py's shape in small: overlapping blobs, centres drawn from the rows.
    let (d, k, m) = (128, 500, 2000);
    let mut draw = Draw(7);
    let gauss =
        |draw: &mut Draw| (-2.0 * draw.next().max(1e-300).ln()).sqrt() * (std::f64::consts::TAU * draw.next()).cos();
    let means: Vec<f64> = (0..50 * d).map(|_| draw.next() * 20.0 - 10.0).collect();
    let rows: Vec<f32> = (0..m)
        .flat_map(|r| (0..d).map(move |p| (r, p)))
        .map(|(r, p)| (means[(r % 50) * d + p] + 2.0 * gauss(&mut draw)) as f32)
        .collect();
    let centers: Vec<f32> = (0..k).flat_map(|j| rows[(j * 3) * d..(j * 3 + 1) * d].to_vec()).collect();
    let (want, got) = both(&rows, &centers, d);
    assert_eq!(got, want);
}
