//! The empty-cluster policy, shared by Lloyd and the mini-batch trainer.
//!
//! A centre that ends an assignment with no weight (no rows, or only rows of weight zero) never
//! becomes NaN and never jumps to the origin. It is moved onto the row that contributes most to
//! the loss (largest weight × squared distance to its centre; ties to the lowest row), taking that
//! row out of its old cluster, exactly as if the row had been assigned to it. A row is only taken
//! from a cluster that keeps another row of positive weight. When no such row exists (fewer
//! distinct weighted rows than clusters) the centre stays where it is.

use std::borrow::Cow;

use crate::backend::Rows;
use crate::kernels::scalar::Scalar;

/// The M step when a cluster is empty: empty clusters first take over the rows that contribute
/// most to the loss (see the module docs), then every centre becomes the weighted mean of its rows.
pub(crate) fn update_centers<F: Scalar, R: Rows<F>>(
    x: R,
    weights: Option<&[f64]>,
    labels: &[u32],
    dist2: &[f64],
    centers: &mut [F],
) {
    let k = centers.len() / x.d();
    let (labels, _) = fill_empty(labels, dist2, weights, k);
    x.move_to_means(weights, &labels, centers);
}

/// `labels` after the policy (module docs): every cluster of the `k` that holds no row of positive
/// weight takes over the row that contributes most to the loss, in cluster order, from clusters
/// that keep another. Also whether every cluster now holds such a row (false where no row was left
/// to give: those clusters' centres stay where they are).
pub(crate) fn fill_empty<'a>(
    labels: &'a [u32],
    dist2: &[f64],
    weights: Option<&[f64]>,
    k: usize,
) -> (Cow<'a, [u32]>, bool) {
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let mut weighted_members = vec![0usize; k];
    for (i, &l) in labels.iter().enumerate() {
        if weight(i) > 0.0 {
            weighted_members[l as usize] += 1;
        }
    }
    let empty: Vec<usize> = (0..k).filter(|&c| weighted_members[c] == 0).collect();
    let mut labels = Cow::Borrowed(labels);
    let mut filled = true;
    if !empty.is_empty() {
        let mut donors = rows_by_contribution(dist2, weights).into_iter();
        for &c in &empty {
            // The next farthest row whose cluster keeps another weighted row.
            match donors.by_ref().find(|&i| weighted_members[labels[i] as usize] >= 2) {
                Some(i) => {
                    weighted_members[labels[i] as usize] -= 1;
                    weighted_members[c] = 1;
                    labels.to_mut()[i] = c as u32;
                }
                None => filled = false,
            }
        }
    }
    (labels, filled)
}

/// Rows of positive contribution weight × squared distance, largest first (ties: lowest row).
/// Sorting every row is O(n log n), but it only happens when a cluster is empty.
pub(crate) fn rows_by_contribution(dist2: &[f64], weights: Option<&[f64]>) -> Vec<usize> {
    let mut rows: Vec<(f64, usize)> =
        (0..dist2.len()).map(|i| (weights.map_or(1.0, |w| w[i]) * dist2[i], i)).filter(|&(c, _)| c > 0.0).collect();
    rows.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    rows.into_iter().map(|(_, i)| i).collect()
}
