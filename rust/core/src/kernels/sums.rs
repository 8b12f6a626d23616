//! Per-cluster sums for the Lloyd M step, and the helpers every pass that sums shares.
//!
//! A Lloyd iteration needs, for every cluster, the weighted mean of its rows. The sums are taken
//! relative to the centre each row was assigned to, `Σ w·(x − c)`, so the new centre is
//! `c + Σ w·(x − c) / Σ w`: no cancellation for data far from the origin, and a centre that
//! already sits on all its (identical) rows gets sums of exactly zero and stays put.
//!
//! `ClusterSums::fold` folds labelled rows into sums (the fused passes of [`crate::kernels::fused`]
//! and [`crate::kernels::bounds`] call it block by block); [`sum_by_label`] sums labelled rows
//! cluster by cluster, each cluster in row order, so the result is the same on any number of
//! threads.

use rayon::prelude::*;

use crate::kernels::parallel::min_items;
#[cfg(target_arch = "x86_64")]
use crate::kernels::points::Load4;
use crate::kernels::points::{fold_lanes, prefetch, Points};
use crate::kernels::scalar::Scalar;

/// Per-cluster sums of one assignment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterSums {
    /// k × d: Σ w·(x − c) over the rows assigned to each centre c.
    pub deltas: Vec<f64>,
    /// Σ w per cluster.
    pub weights: Vec<f64>,
    /// Rows of positive weight per cluster.
    pub members: Vec<u64>,
}

impl ClusterSums {
    pub(crate) fn zeros(k: usize, d: usize) -> Self {
        Self { deltas: vec![0.0; k * d], weights: vec![0.0; k], members: vec![0; k] }
    }

    /// The sum of chunks' partial sums, added in chunk order.
    pub(crate) fn total(k: usize, d: usize, partials: &[Self]) -> Self {
        let mut total = Self::zeros(k, d);
        partials.iter().for_each(|p| total.add(p));
        total
    }

    pub(crate) fn add(&mut self, other: &Self) {
        self.deltas.iter_mut().zip(&other.deltas).for_each(|(a, b)| *a += b);
        self.weights.iter_mut().zip(&other.weights).for_each(|(a, b)| *a += b);
        self.members.iter_mut().zip(&other.members).for_each(|(a, b)| *a += b);
    }

    /// Folds rows into the sums, given their labels, and writes each row's exact squared
    /// distance to its centre (`x − c` is computed once, in `f64`, for both). `centers` are the
    /// k × d centres converted to `f64`.
    pub(crate) fn fold<F: Scalar>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: &[f64],
        labels: &[u32],
        dist2: &mut [f64],
        ahead: &[F],
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::avx2::available() {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { self.fold_avx2(rows, weights, centers, labels, dist2, ahead) };
        }
        self.fold_portable(rows, weights, centers, labels, dist2, ahead)
    }

    /// [`ClusterSums::fold`] compiled for AVX2, so that [`fold_row`]'s AVX2 loop is inlined into
    /// it rather than called once per row.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fold_avx2<F: Scalar>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: &[f64],
        labels: &[u32],
        dist2: &mut [f64],
        ahead: &[F],
    ) {
        self.fold_portable(rows, weights, centers, labels, dist2, ahead)
    }

    #[inline(always)]
    fn fold_portable<F: Scalar>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: &[f64],
        labels: &[u32],
        dist2: &mut [f64],
        ahead: &[F],
    ) {
        let d = rows.d();
        // Narrow rows get a loop of their own width (the same arithmetic in the same order). It
        // does not prefetch `ahead`: a block of such rows is a few cache lines, which the
        // hardware prefetcher fetches in time on its own.
        match d {
            1 => return self.fold_narrow::<F, 1>(rows, weights, centers, labels, dist2),
            2 => return self.fold_narrow::<F, 2>(rows, weights, centers, labels, dist2),
            3 => return self.fold_narrow::<F, 3>(rows, weights, centers, labels, dist2),
            4 => return self.fold_narrow::<F, 4>(rows, weights, centers, labels, dist2),
            _ => {}
        }
        // While a row is folded, an equal share of the next block's rows is fetched, so memory
        // keeps streaming while the fold computes.
        let share = ahead.len().div_ceil(labels.len().max(1));
        for (r, (&label, d2)) in labels.iter().zip(dist2.iter_mut()).enumerate() {
            if let Some(next) = ahead.get(r * share..((r + 1) * share).min(ahead.len())) {
                prefetch(next);
            }
            let l = label as usize;
            let (c, sums) = (&centers[l * d..(l + 1) * d], &mut self.deltas[l * d..(l + 1) * d]);
            let (weight, members) = (&mut self.weights[l], &mut self.members[l]);
            *d2 = fold_weighted_row(rows.row(r), c, weights.map(|w| w[r]), sums, weight, members);
        }
    }

    /// [`ClusterSums::fold`] of rows of exactly `D` features: what [`fold_weighted_row`] does
    /// for a row narrower than eight (its features in order, [`fold_tail`]), unrolled.
    #[inline(always)]
    fn fold_narrow<F: Scalar, const D: usize>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: &[f64],
        labels: &[u32],
        dist2: &mut [f64],
    ) {
        let x = rows.as_slice();
        for (r, (&label, d2)) in labels.iter().zip(dist2.iter_mut()).enumerate() {
            let l = label as usize;
            let row: &[F; D] = x[r * D..(r + 1) * D].try_into().expect("D features");
            let c: &[f64; D] = centers[l * D..(l + 1) * D].try_into().expect("D features");
            let t: [f64; D] = std::array::from_fn(|p| row[p].to_f64() - c[p]);
            // As `Iterator::sum` adds (from -0.0, which the first square absorbs exactly).
            *d2 = t.iter().fold(-0.0, |acc, t| acc + t * t);
            let w = weights.map(|w| w[r]);
            if w == Some(0.0) {
                continue;
            }
            let sums: &mut [f64; D] = (&mut self.deltas[l * D..(l + 1) * D]).try_into().expect("D features");
            for (s, t) in sums.iter_mut().zip(t) {
                *s += w.map_or(t, |w| w * t);
            }
            self.weights[l] += w.unwrap_or(1.0);
            self.members[l] += 1;
        }
    }

    /// Whether every cluster holds a row of positive weight.
    pub fn none_empty(&self) -> bool {
        self.members.iter().all(|&m| m > 0)
    }

    /// How much [`ClusterSums::move_centers`] lowers the weighted ssd of the rows it summed, their
    /// labels kept: `Σ_j ‖δ_j‖² / W_j` over the clusters with weight (`δ_j = Σ w·(x − c_j)`,
    /// `W_j = Σ w`), since a cluster's ssd about a point `c` is its ssd about its mean plus
    /// `W_j ‖mean − c‖²`.
    pub fn move_gain(&self) -> f64 {
        let d = self.deltas.len() / self.weights.len().max(1);
        (self.deltas.chunks_exact(d.max(1)).zip(&self.weights))
            .filter(|(_, &w)| w > 0.0)
            .map(|(delta, &w)| delta.iter().map(|v| v * v).sum::<f64>() / w)
            .sum()
    }

    /// The M step: every centre with weight moves to the weighted mean of its rows (the sums are
    /// relative to `centers` themselves).
    pub fn move_centers<F: Scalar>(&self, centers: &mut [F]) {
        self.move_centers_from(None, centers)
    }

    /// The M step for sums taken relative to `reference` (k × d; `None`: `centers` themselves):
    /// every centre with weight becomes `r + Σ w·(x − r) / Σ w`.
    pub fn move_centers_from<F: Scalar>(&self, reference: Option<&[f64]>, centers: &mut [F]) {
        let d = self.deltas.len() / self.weights.len().max(1);
        for (c, &total) in self.weights.iter().enumerate().filter(|(_, &t)| t > 0.0) {
            let deltas = &self.deltas[c * d..(c + 1) * d];
            for (p, (dst, &delta)) in centers[c * d..(c + 1) * d].iter_mut().zip(deltas).enumerate() {
                let r = reference.map_or(dst.to_f64(), |r| r[c * d + p]);
                *dst = F::from_f64(r + delta / total);
            }
        }
    }
}

/// Folds the `rows` of one cluster (centre `center`) into its `deltas`, writing their distances
/// to `dist2` in the same order; returns the cluster's weight and members.
fn fold_cluster<F: Scalar>(
    x: Points<'_, F>,
    rows: &[u32],
    weights: Option<&[f64]>,
    center: &[f64],
    deltas: &mut [f64],
    dist2: &mut [f64],
) -> (f64, u64) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2::wide_available() && x.d().is_multiple_of(8) && x.d() <= 8 * HELD_EIGHTS {
        // SAFETY: the CPU has AVX-512F (wide_available); d is a whole number of eights, at most
        // HELD_EIGHTS of them.
        return unsafe { held::fold_cluster(x, rows, weights, center, deltas, dist2) };
    }
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2::available() {
        /// Compiled for AVX2, so that [`fold_row`]'s AVX2 loop is inlined into it.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fold_cluster_avx2<F: Scalar>(
            x: Points<'_, F>,
            rows: &[u32],
            weights: Option<&[f64]>,
            center: &[f64],
            deltas: &mut [f64],
            dist2: &mut [f64],
        ) -> (f64, u64) {
            fold_cluster_portable(x, rows, weights, center, deltas, dist2)
        }
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { fold_cluster_avx2(x, rows, weights, center, deltas, dist2) };
    }
    fold_cluster_portable(x, rows, weights, center, deltas, dist2)
}

/// Rows of up to this many eights of features are folded by [`held::fold_cluster`].
#[cfg(target_arch = "x86_64")]
const HELD_EIGHTS: usize = 8;

/// [`fold_cluster`] with the cluster's centre and sums held in AVX-512 registers.
///
/// A cluster's rows all fold into one set of sums, and [`fold_row`] loads, adds to and stores
/// them again for every row, a chain through memory from one row to the next; it also walks the
/// features in a loop of eights. Here, for rows of a whole number of eights of features, at most
/// [`HELD_EIGHTS`] (64), the centre and the sums stay in registers (one zmm per eight), the
/// features are unrolled, and the sums are stored once, after the last row. Lane for lane these
/// are [`fold_row`]'s operations in its order (its two ymm halves are one zmm's lower and upper
/// lanes; multiply, then add, no FMA), so every sum and distance has its bits.
///
/// Measured on this project's 2-core Xeon (AVX-512F): a full pass over digits (1,797 × 64,
/// float64) that sums cluster by cluster, k = 10, best of 300, 94–97 → 83–84 µs, at k = 30
/// 148–154 → 138–139 µs; whole default fits of digits, the builds taking turns, 0.95 of the time
/// at k = 10 and 0.98 at k = 30, the same losses. Prefetching the cluster's next rows was tried
/// and was no faster. Each row's distance, the sum across its eight lanes, is folded eight rows
/// at a time ([`fold_eights`](crate::kernels::avx2::fold_eights), the same adds): a labelled
/// pass of digits that sums cluster by cluster, one thread, 89.5–90.1 µs against 89.6–93.6
/// in float64, 78.9–80.1 against 80.1–81.7 in float32 (2026-12-07, evening; a noisy machine).
#[cfg(target_arch = "x86_64")]
mod held {
    use std::arch::x86_64::*;

    use crate::kernels::avx2::fold_eights;
    use crate::kernels::points::Points;
    use crate::kernels::scalar::Scalar;
    use crate::kernels::sums::HELD_EIGHTS;

    /// Eight values of a row as `f64` in a zmm register.
    trait Load8: Copy {
        /// # Safety
        /// `p` must be valid for eight reads; the CPU must have AVX-512F.
        unsafe fn load8(p: *const Self) -> __m512d;
    }

    impl Load8 for f32 {
        #[inline(always)]
        unsafe fn load8(p: *const f32) -> __m512d {
            // SAFETY: forwarded.
            unsafe { _mm512_cvtps_pd(_mm256_loadu_ps(p)) }
        }
    }

    impl Load8 for f64 {
        #[inline(always)]
        unsafe fn load8(p: *const f64) -> __m512d {
            // SAFETY: forwarded.
            unsafe { _mm512_loadu_pd(p) }
        }
    }

    /// [`super::fold_cluster`] for rows of `8 · E` features, `E` at most [`HELD_EIGHTS`].
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `x.d()` must be a multiple of eight, at most `8 · HELD_EIGHTS`.
    pub(super) unsafe fn fold_cluster<F: Scalar>(
        x: Points<'_, F>,
        rows: &[u32],
        weights: Option<&[f64]>,
        center: &[f64],
        deltas: &mut [f64],
        dist2: &mut [f64],
    ) -> (f64, u64) {
        macro_rules! eights {
            ($data:expr) => {
                // SAFETY: forwarded; E · 8 = d.
                match x.d() / 8 {
                    1 => unsafe { fold::<_, 1>($data, rows, weights, center, deltas, dist2) },
                    2 => unsafe { fold::<_, 2>($data, rows, weights, center, deltas, dist2) },
                    3 => unsafe { fold::<_, 3>($data, rows, weights, center, deltas, dist2) },
                    4 => unsafe { fold::<_, 4>($data, rows, weights, center, deltas, dist2) },
                    5 => unsafe { fold::<_, 5>($data, rows, weights, center, deltas, dist2) },
                    6 => unsafe { fold::<_, 6>($data, rows, weights, center, deltas, dist2) },
                    7 => unsafe { fold::<_, 7>($data, rows, weights, center, deltas, dist2) },
                    8 => unsafe { fold::<_, 8>($data, rows, weights, center, deltas, dist2) },
                    _ => unreachable!("rows of 8 to {} features", 8 * HELD_EIGHTS),
                }
            };
        }
        if let Some(data) = F::as_f64(x.as_slice()) {
            return eights!(data);
        }
        let data = F::as_f32(x.as_slice()).expect("float32 or float64 rows");
        eights!(data)
    }

    /// The fold over the rows `rows` of `data` (row-major, `8 · E` features a row).
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn fold<T: Load8, const E: usize>(
        data: &[T],
        rows: &[u32],
        weights: Option<&[f64]>,
        center: &[f64],
        deltas: &mut [f64],
        dist2: &mut [f64],
    ) -> (f64, u64) {
        let d = 8 * E;
        assert!(center.len() == d && deltas.len() == d && dist2.len() == rows.len());
        assert!(rows.iter().all(|&r| (r as usize + 1) * d <= data.len()), "rows inside the data");
        let (mut weight, mut members) = (0.0, 0);
        // SAFETY: the CPU has AVX-512F (this function's contract); every load below is inside
        // `center`, `deltas` or a checked row.
        unsafe {
            let c: [__m512d; E] = std::array::from_fn(|e| _mm512_loadu_pd(center.as_ptr().add(8 * e)));
            let mut sums: [__m512d; E] = std::array::from_fn(|e| _mm512_loadu_pd(deltas.as_ptr().add(8 * e)));
            // Each row's eight lanes of squares, folded eight rows at a time as fold_row folds
            // one row's (its tail is empty, and adds nothing).
            let mut pending = [_mm512_setzero_pd(); 8];
            for (i, &r) in rows.iter().enumerate() {
                let row = data.as_ptr().add(r as usize * d);
                let w = weights.map(|w| w[r as usize]);
                let t: [__m512d; E] = std::array::from_fn(|e| _mm512_sub_pd(T::load8(row.add(8 * e)), c[e]));
                let mut lanes = _mm512_setzero_pd();
                for t in &t {
                    lanes = _mm512_add_pd(lanes, _mm512_mul_pd(*t, *t));
                }
                pending[i % 8] = lanes;
                if i % 8 == 7 {
                    _mm512_storeu_pd(dist2.as_mut_ptr().add(i - 7), fold_eights(pending));
                }
                if w == Some(0.0) {
                    continue;
                }
                weight += w.unwrap_or(1.0);
                members += 1;
                match w {
                    Some(w) => {
                        let wv = _mm512_set1_pd(w);
                        for (s, t) in sums.iter_mut().zip(t) {
                            *s = _mm512_add_pd(*s, _mm512_mul_pd(wv, t));
                        }
                    }
                    None => {
                        for (s, t) in sums.iter_mut().zip(t) {
                            *s = _mm512_add_pd(*s, t);
                        }
                    }
                }
            }
            let done = rows.len() / 8 * 8;
            if done < rows.len() {
                let mut folded = [0f64; 8];
                _mm512_storeu_pd(folded.as_mut_ptr(), fold_eights(pending));
                dist2[done..].copy_from_slice(&folded[..rows.len() - done]);
            }
            for (e, s) in sums.iter().enumerate() {
                _mm512_storeu_pd(deltas.as_mut_ptr().add(8 * e), *s);
            }
        }
        (weight, members)
    }
}

#[inline(always)]
fn fold_cluster_portable<F: Scalar>(
    x: Points<'_, F>,
    rows: &[u32],
    weights: Option<&[f64]>,
    center: &[f64],
    deltas: &mut [f64],
    dist2: &mut [f64],
) -> (f64, u64) {
    let (mut weight, mut members) = (0.0, 0);
    for (d2, &r) in dist2.iter_mut().zip(rows) {
        let w = weights.map(|w| w[r as usize]);
        *d2 = fold_weighted_row(x.row(r as usize), center, w, deltas, &mut weight, &mut members);
    }
    (weight, members)
}

/// One row's exact squared distance to its centre `c` (as `f64`). Unless the row's weight `w`
/// is zero, the row joins the cluster: `w·(x − c)` (`x − c` when unweighted) is added to its
/// `sums`, `w` (1) to its `weight` and one to its `members`.
#[inline(always)]
fn fold_weighted_row<F: Scalar>(
    x: &[F],
    c: &[f64],
    w: Option<f64>,
    sums: &mut [f64],
    weight: &mut f64,
    members: &mut u64,
) -> f64 {
    if w == Some(0.0) {
        return fold_row::<F, false>(x, c, sums, None);
    }
    *weight += w.unwrap_or(1.0);
    *members += 1;
    fold_row::<F, true>(x, c, sums, w)
}

/// `Σ (x − c)²` in [`sq_dist_f64`]'s eight-lane order (so it has the same bits), adding
/// `x − c` (times `w`, when given) to `sums` on the way when `ADD`.
#[inline(always)]
pub(crate) fn fold_row<F: Scalar, const ADD: bool>(x: &[F], c: &[f64], sums: &mut [f64], w: Option<f64>) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2::available() {
        // SAFETY: the CPU has AVX2; the slices have the same length.
        if let Some(x) = F::as_f32(x) {
            return unsafe { fold_row_avx2::<_, ADD>(x, c, sums, w) };
        }
        if let Some(x) = F::as_f64(x) {
            return unsafe { fold_row_avx2::<_, ADD>(x, c, sums, w) };
        }
    }
    let mut lanes = [0f64; 8];
    let (xs, cs, ss) = (x.chunks_exact(8), c.chunks_exact(8), sums.chunks_exact_mut(8));
    for ((x, c), s) in xs.zip(cs).zip(ss) {
        for i in 0..8 {
            let t = x[i].to_f64() - c[i];
            lanes[i] += t * t;
            if ADD {
                s[i] += w.map_or(t, |w| w * t);
            }
        }
    }
    fold_lanes(lanes) + fold_tail::<F, ADD>(x, c, sums, w)
}

/// The features past the last whole eight of [`fold_row`], in order.
#[inline(always)]
fn fold_tail<F: Scalar, const ADD: bool>(x: &[F], c: &[f64], sums: &mut [f64], w: Option<f64>) -> f64 {
    let start = x.len() - x.len() % 8;
    let tail = x[start..].iter().zip(&c[start..]).zip(&mut sums[start..]).map(|((&u, &v), s)| {
        let t = u.to_f64() - v;
        if ADD {
            *s += w.map_or(t, |w| w * t);
        }
        t * t
    });
    tail.sum::<f64>()
}

/// [`fold_row`] in AVX2 registers: lanes 0–3 and 4–7 of its eight are two ymm sums, and the
/// products and sums are rounded exactly as there (multiply, then add; no FMA).
///
/// Not itself compiled for AVX2 (a `#[target_feature]` function cannot be forced inline), but
/// always inlined: inside the AVX2-compiled row loops its intrinsics become single
/// instructions, with no call per row.
///
/// # Safety
/// The CPU must have AVX2; `c` and `sums` must be at least as long as `x`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn fold_row_avx2<F: Load4, const ADD: bool>(x: &[F], c: &[f64], sums: &mut [f64], w: Option<f64>) -> f64 {
    use std::arch::x86_64::*;
    assert!(c.len() >= x.len() && sums.len() >= x.len());
    let whole = x.len() - x.len() % 8;
    let (xp, cp, sp) = (x.as_ptr(), c.as_ptr(), sums.as_mut_ptr());
    // SAFETY: every offset below is under `whole` <= the length of all three slices.
    let lanes = unsafe {
        let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        let wv = _mm256_set1_pd(w.unwrap_or(1.0));
        for i in (0..whole).step_by(8) {
            let t0 = _mm256_sub_pd(F::load4(xp.add(i)), _mm256_loadu_pd(cp.add(i)));
            let t1 = _mm256_sub_pd(F::load4(xp.add(i + 4)), _mm256_loadu_pd(cp.add(i + 4)));
            lo = _mm256_add_pd(lo, _mm256_mul_pd(t0, t0));
            hi = _mm256_add_pd(hi, _mm256_mul_pd(t1, t1));
            if ADD {
                let (a0, a1) = if w.is_some() { (_mm256_mul_pd(wv, t0), _mm256_mul_pd(wv, t1)) } else { (t0, t1) };
                _mm256_storeu_pd(sp.add(i), _mm256_add_pd(_mm256_loadu_pd(sp.add(i)), a0));
                _mm256_storeu_pd(sp.add(i + 4), _mm256_add_pd(_mm256_loadu_pd(sp.add(i + 4)), a1));
            }
        }
        let mut lanes = [0f64; 8];
        _mm256_storeu_pd(lanes.as_mut_ptr(), lo);
        _mm256_storeu_pd(lanes.as_mut_ptr().add(4), hi);
        lanes
    };
    fold_lanes(lanes) + fold_tail::<F, ADD>(x, c, sums, w)
}

/// The sums for given labels, cluster by cluster (the path of small inputs, and the reference
/// in tests).
pub fn sum_by_label<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &[u32],
) -> ClusterSums {
    let mut dist2 = vec![0.0; x.n()];
    sums_by_cluster(x, weights, &to_f64(centers), centers.n(), labels, &mut dist2)
}

/// The sums for given labels and every row's exact squared distance, computed cluster by cluster
/// in parallel. Each cluster adds its own rows in row order, so the sums are those of one pass
/// over the rows in order, on any number of threads; nothing is zeroed or merged but the k × d
/// result.
pub(crate) fn sums_by_cluster<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: &[f64],
    k: usize,
    labels: &[u32],
    dist2: &mut [f64],
) -> ClusterSums {
    let d = x.d();
    let mut sums = ClusterSums::zeros(k, d);
    if d == 0 {
        // No features: every distance is zero; the weights still count.
        dist2.fill(0.0);
        for (r, &l) in labels.iter().enumerate() {
            let w = weights.map_or(1.0, |w| w[r]);
            if w != 0.0 {
                sums.weights[l as usize] += w;
                sums.members[l as usize] += 1;
            }
        }
        return sums;
    }
    let (offsets, order) = group_by_label(labels, k);
    // Each cluster's distances, in its rows' order, then scattered back to row order.
    let mut grouped = vec![0f64; labels.len()];
    let mut segments = Vec::with_capacity(k);
    let mut rest = &mut grouped[..];
    for c in 0..k {
        let (segment, tail) = rest.split_at_mut(offsets[c + 1] - offsets[c]);
        segments.push(segment);
        rest = tail;
    }
    let per_cluster = (labels.len() / k.max(1)).max(1) * d;
    sums.deltas
        .par_chunks_mut(d)
        .zip(sums.weights.par_iter_mut().zip(sums.members.par_iter_mut()))
        .zip(segments)
        .enumerate()
        .with_min_len(min_items(per_cluster))
        .for_each(|(c, ((deltas, (weight, members)), segment))| {
            let rows = &order[offsets[c]..offsets[c + 1]];
            (*weight, *members) = fold_cluster(x, rows, weights, &centers[c * d..(c + 1) * d], deltas, segment);
        });
    for (&r, &v) in order.iter().zip(&grouped) {
        dist2[r as usize] = v;
    }
    sums
}

/// Rows grouped by label (a counting sort): the rows of cluster `c`, in row order, are
/// `order[offsets[c]..offsets[c + 1]]`.
pub(crate) fn group_by_label(labels: &[u32], k: usize) -> (Vec<usize>, Vec<u32>) {
    let mut offsets = vec![0usize; k + 1];
    for &l in labels {
        offsets[l as usize + 1] += 1;
    }
    for c in 0..k {
        offsets[c + 1] += offsets[c];
    }
    let mut next = offsets.clone();
    let mut order = vec![0u32; labels.len()];
    for (i, &l) in labels.iter().enumerate() {
        order[next[l as usize]] = i as u32;
        next[l as usize] += 1;
    }
    (offsets, order)
}

/// Per-cluster weighted means (k × d, `f64`) and total weights, each summed in row order with
/// clusters in parallel, so the result is the same on any number of threads.
///
/// Sums are taken relative to the cluster's first row, mean = ref + Σ w·(x − ref) / Σ w: this
/// avoids cancellation for data far from the origin, and a cluster of identical rows gets exactly
/// that row as its mean. A cluster of zero total weight gets a mean of zeros (callers skip it).
pub(crate) fn cluster_means<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    labels: &[u32],
    k: usize,
) -> (Vec<f64>, Vec<f64>) {
    let d = x.d();
    let (offsets, order) = group_by_label(labels, k);
    let mut means = vec![0f64; k * d];
    let mut totals = vec![0f64; k];
    let rows_per_cluster = labels.len() / k.max(1) + 1;
    means
        .par_chunks_mut(d)
        .zip(totals.par_iter_mut())
        .enumerate()
        .with_min_len(min_items(rows_per_cluster * d))
        .for_each(|(c, (mean, total))| {
            let members = &order[offsets[c]..offsets[c + 1]];
            let Some(&first) = members.first() else { return };
            let reference = x.row(first as usize);
            for &i in members {
                let w = weights.map_or(1.0, |w| w[i as usize]);
                for ((m, &v), &r) in mean.iter_mut().zip(x.row(i as usize)).zip(reference) {
                    *m += w * (v.to_f64() - r.to_f64());
                }
                *total += w;
            }
            if *total > 0.0 {
                for (m, &r) in mean.iter_mut().zip(reference) {
                    *m = r.to_f64() + *m / *total;
                }
            }
        });
    (means, totals)
}

/// The centres as `f64`, k × d.
pub(crate) fn to_f64<F: Scalar>(centers: Points<'_, F>) -> Vec<f64> {
    centers.as_slice().iter().map(|v| v.to_f64()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Rng};

    /// Row-order folding (narrow widths have loops of their own) and cluster-by-cluster summing
    /// add each cluster's rows in the same order, so they agree bit for bit; so do the sums held
    /// in AVX-512 registers (`held`, rows of 8 to 64 features in whole eights, where the CPU has
    /// AVX-512F) and [`fold_row`]'s loop, which row-order folding takes.
    fn fold_matches_sums_by_cluster<F: Scalar>() {
        let mut rng = Rng::new(7, Purpose::SeedSample);
        let (n, k) = (300, 5);
        for d in (1..=9).chain([16, 24, 40, 56, 64, 72]) {
            let x: Vec<F> = (0..n * d).map(|_| F::from_f64(rng.uniform() * 100.0 - 50.0)).collect();
            let centers: Vec<f64> = (0..k * d).map(|_| F::from_f64(rng.uniform() * 100.0 - 50.0).to_f64()).collect();
            let labels: Vec<u32> = (0..n).map(|_| rng.below(k) as u32).collect();
            let weights: Vec<f64> = (0..n).map(|i| if i % 7 == 0 { 0.0 } else { rng.uniform() * 3.0 }).collect();
            let rows = Points::from_rows(&x, d).unwrap();
            for w in [None, Some(&weights[..])] {
                let (mut folded_d2, mut summed_d2) = (vec![0.0; n], vec![0.0; n]);
                let mut folded = ClusterSums::zeros(k, d);
                folded.fold(rows, w, &centers, &labels, &mut folded_d2, &[]);
                let summed = sums_by_cluster(rows, w, &centers, k, &labels, &mut summed_d2);
                assert_eq!(folded, summed, "{} d = {d}, weighted {}", F::NAME, w.is_some());
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&folded_d2), bits(&summed_d2), "{} d = {d}", F::NAME);
            }
        }
    }

    #[test]
    fn folding_rows_in_order_gives_the_sums_of_each_cluster_in_float32() {
        fold_matches_sums_by_cluster::<f32>();
    }

    #[test]
    fn folding_rows_in_order_gives_the_sums_of_each_cluster_in_float64() {
        fold_matches_sums_by_cluster::<f64>();
    }
}
