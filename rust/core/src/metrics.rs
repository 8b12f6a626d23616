//! Losses, accumulated in `f64` in row order (so they do not depend on the thread count).

/// Σ dist2[i] · weights[i] (weights default to 1): the sum of squared distances (ssd).
pub fn weighted_ssd(dist2: &[f64], weights: Option<&[f64]>) -> f64 {
    match weights {
        None => dist2.iter().sum(),
        Some(w) => dist2.iter().zip(w).map(|(d, w)| d * w).sum(),
    }
}

/// Total weight: the number of rows when unweighted.
pub fn total_weight(n: usize, weights: Option<&[f64]>) -> f64 {
    weights.map_or(n as f64, |w| w.iter().sum())
}

/// Mean squared distance (msd): ssd over the total weight, 0 for no weight.
pub fn msd(ssd: f64, total_weight: f64) -> f64 {
    if total_weight > 0.0 {
        ssd / total_weight
    } else {
        0.0
    }
}
