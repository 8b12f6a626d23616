//! The Calinski–Harabasz and Davies–Bouldin statistics on the device ([`Dispersion`]): two
//! passes over the rows, chunk by chunk as a Lloyd pass streams them (kept on the device between
//! the two when they fit). The first sums each cluster's rows relative to its first row, as the
//! CPU's cluster means do, with the M step's fixed-order sums ([`Gpu::chunk_sums`]); the second
//! measures each row's squared distance to its cluster's mean (`dispersion_rows`, the CPU's
//! order of adds), which the host adds up per cluster in row order as the CPU does. The means
//! differ from the CPU's in the order of their f64 additions only, so every statistic agrees with
//! the CPU's to about 1e-12 relative; reruns give the same bits.

use cudarc::driver::{CudaSlice, LaunchConfig, PushKernelArg};

use super::pass::{chunk_rows, err, Chunk, Gpu, Residency, R};
use crate::kernels::metrics::{within_sums, Dispersion};
use crate::kernels::points::Points;
use crate::kernels::sums::ClusterSums;

/// Rows per block of `dispersion_rows` (a thread per row).
const THREADS: u32 = 256;

/// The [`Dispersion`] of the float32 rows `x` labelled `labels` (checked by the caller: one per
/// row, each in `0..k`).
pub(super) fn dispersion(gpu: &Gpu, x: Points<'_, f32>, labels: &[u32], k: usize) -> R<Dispersion> {
    let _busy = gpu.busy.lock().unwrap_or_else(|e| e.into_inner());
    gpu.ctx.bind_to_thread().map_err(err("cannot bind the CUDA context"))?;
    let (n, d) = (x.n(), x.d());
    let s = &gpu.stream;
    // Each cluster's first row: its rows are summed relative to it (no cancellation far from the
    // origin), as the CPU's cluster means are. An empty cluster's mean is zero.
    let mut first = vec![None; k];
    for (i, &label) in labels.iter().enumerate() {
        first[label as usize].get_or_insert(i);
    }
    let reference: Vec<f32> =
        first.iter().flat_map(|&i| i.map_or_else(|| vec![0.0; d], |i| x.row(i).to_vec())).collect();
    let reference_dev = s.clone_htod(&reference).map_err(err("copying the clusters' first rows"))?;
    let residency = Residency::default();
    let mut kept = residency.0.lock().unwrap_or_else(|e| e.into_inner());
    let chunk_cap = chunk_rows(d).min(n).max(1);
    let mut labels_dev = s.alloc_zeros::<u32>(chunk_cap).map_err(err("allocating labels"))?;
    let upload_labels = |chunk: &Chunk<'_>, labels_dev: &mut CudaSlice<u32>| {
        let part = &labels[chunk.start..chunk.start + chunk.m];
        s.memcpy_htod(part, &mut labels_dev.slice_mut(0..chunk.m)).map_err(err("copying labels"))
    };

    let mut sums = ClusterSums::zeros(k, d);
    gpu.for_each_chunk(&mut kept, x.as_slice(), None, false, d, true, |chunk, prefetch| {
        upload_labels(&chunk, &mut labels_dev)?;
        prefetch()?;
        sums.add(&gpu.chunk_sums(&chunk.x, None, &reference_dev, &labels_dev, chunk.m, k, d)?);
        Ok(())
    })?;
    let mut means = vec![0f64; k * d];
    for c in (0..k).filter(|&c| sums.weights[c] > 0.0) {
        let (mean, delta) = (&mut means[c * d..(c + 1) * d], &sums.deltas[c * d..(c + 1) * d]);
        for ((m, &r), &delta) in mean.iter_mut().zip(&reference[c * d..(c + 1) * d]).zip(delta) {
            *m = f64::from(r) + delta / sums.weights[c];
        }
    }

    let means_dev = s.clone_htod(&means).map_err(err("copying the means"))?;
    let mut e_dev = s.alloc_zeros::<f64>(chunk_cap).map_err(err("allocating distances"))?;
    let mut e = vec![0f64; n];
    let d_i = d as i32;
    gpu.for_each_chunk(&mut kept, x.as_slice(), None, false, d, true, |chunk, prefetch| {
        upload_labels(&chunk, &mut labels_dev)?;
        let m_i = chunk.m as i32;
        let cfg = LaunchConfig {
            grid_dim: ((chunk.m as u32).div_ceil(THREADS), 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut launch = s.launch_builder(&gpu.kernels.dispersion_rows);
        launch.arg(&chunk.x).arg(&labels_dev).arg(&means_dev).arg(&m_i).arg(&d_i).arg(&mut e_dev);
        // SAFETY: the kernel's parameters are exactly these, in this order.
        unsafe { launch.launch(cfg) }.map_err(err("launching dispersion_rows"))?;
        prefetch()?;
        let end = chunk.start + chunk.m;
        s.memcpy_dtoh(&e_dev.slice(0..chunk.m), &mut e[chunk.start..end]).map_err(err("copying distances back"))
    })?;
    s.synchronize().map_err(err("the dispersion failed on the device"))?;

    let (counts, within_ssd, within_distance) = within_sums(labels, k, &e);
    Ok(Dispersion { counts, means, within_ssd, within_distance, d })
}
