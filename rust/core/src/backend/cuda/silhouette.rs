//! The exact silhouette on the device: every pair of rows' distance, from DGEMM tiles of the rows
//! in label order, centred on their mean as the CPU centres them ([`DenseDots`]), in f64 (the
//! CPU's expansion, [`crate::kernels::silhouette`], in the same precision), summed per row and cluster by
//! `silhouette_tile` in a fixed order. The values agree with the CPU's to about 1e-12 (the sums
//! are added in another order); reruns give the same bits. Every pair is computed: the CPU's
//! pruning by cluster bounds is left out, the device being fast enough at measuring them all.

use std::sync::atomic::AtomicBool;

use cudarc::cublas::Gemm;
use cudarc::driver::{CudaSlice, CudaView, DriverError, PushKernelArg};

use super::guard::out_of_memory;
use super::pass::{row_dots, warp_per_row, Gpu};
use crate::error::{check_stop, Error, Result};
use crate::kernels::pairwise::DenseDots;
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::kernels::silhouette::{positions, value_from_sums};
use crate::kernels::sums::group_by_label;

/// Rows of a tile at most (fewer where their k sums would pass [`ACC_VALUES`]).
const TILE_ROWS: usize = 4096;
/// Columns of a tile: a tile of scores is `TILE_ROWS × TILE_COLS` f64 (256 MiB).
const TILE_COLS: usize = 8192;
/// A tile's per-row, per-cluster sums hold at most this many f64.
const ACC_VALUES: usize = 1 << 25;

/// The silhouette of the rows `rows` (all when `None`) of the dense rows `x`,
/// labelled `labels` (checked: each in `0..k`), or `None` when the rows in f64 would take more
/// than half the device's free memory (the caller computes on the CPU).
pub(super) fn silhouette<F: Scalar>(
    gpu: &Gpu,
    x: Points<'_, F>,
    labels: &[u32],
    k: usize,
    rows: Option<&[usize]>,
    stop: &AtomicBool,
) -> Result<Option<Vec<f64>>> {
    let _busy = gpu.busy.lock().unwrap_or_else(|e| e.into_inner());
    gpu.ctx.bind_to_thread().map_err(|e| fail("cannot bind the CUDA context")(e).error())?;
    let (n, d) = (x.n(), x.d());
    let (offsets, order) = group_by_label(labels, k);
    let counts: Vec<usize> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
    let wanted: Vec<usize> = match rows {
        Some(rows) => {
            let position = positions(&order);
            rows.iter().map(|&i| position[i] as usize).collect()
        }
        None => (0..n).collect(),
    };
    // Tiles no larger than the data.
    let tile_rows = (ACC_VALUES / k.max(1)).clamp(32, TILE_ROWS).min(wanted.len().max(1));
    let tile_cols = TILE_COLS.min(n);
    let bytes = 8 * (n * d + n + tile_rows * (tile_cols + k + d + 2));
    let (free, _) = gpu.ctx.mem_get_info().map_err(|e| fail("cannot read the free memory")(e).error())?;
    if bytes > free / 2 {
        return Ok(None);
    }
    match on_device(gpu, x, labels, k, &offsets, &order, &counts, &wanted, tile_rows, tile_cols, stop) {
        // Memory another process took after the check: the CPU computes instead.
        Err(DeviceFailure::OutOfMemory) => Ok(None),
        Err(DeviceFailure::Other(e)) => Err(e),
        Ok(values) => Ok(Some(values)),
    }
}

/// Why the device's part failed: out of memory (the caller falls back to the CPU), or anything
/// else (passed up).
enum DeviceFailure {
    OutOfMemory,
    Other(Error),
}

impl From<Error> for DeviceFailure {
    fn from(e: Error) -> Self {
        Self::Other(e)
    }
}

impl DeviceFailure {
    /// The algorithms' error.
    fn error(self) -> Error {
        match self {
            Self::OutOfMemory => Error::Backend("the device is out of memory".into()),
            Self::Other(e) => e,
        }
    }
}

/// The silhouette of the rows at places `wanted` in label order, on the device, in tiles of
/// `tile_rows` rows and `tile_cols` columns.
#[allow(clippy::too_many_arguments)]
fn on_device<F: Scalar>(
    gpu: &Gpu,
    x: Points<'_, F>,
    labels: &[u32],
    k: usize,
    offsets: &[usize],
    order: &[u32],
    counts: &[usize],
    wanted: &[usize],
    tile_rows: usize,
    tile_cols: usize,
    stop: &AtomicBool,
) -> std::result::Result<Vec<f64>, DeviceFailure> {
    let (n, d) = (x.n(), x.d());
    // The rows in label order, centred on their mean as the CPU centres them, and their norms.
    let dots = DenseDots::new(x);
    let centred = dots.centred_in_order(order);
    let norms: Vec<f64> = order.iter().map(|&i| dots.norms[i as usize]).collect();

    let s = &gpu.stream;
    let all = s.clone_htod(&centred).map_err(fail("copying the rows"))?;
    let all_norms = s.clone_htod(&norms).map_err(fail("copying the norms"))?;
    let mut dots = s.alloc_zeros::<f64>(tile_rows * tile_cols).map_err(fail("allocating a tile"))?;
    // Each column tile's runs of one cluster (its first column, its cluster), once for all row
    // tiles.
    let mut runs = Vec::new();
    for c0 in (0..n).step_by(tile_cols) {
        let c1 = (c0 + tile_cols).min(n);
        let (mut begin, mut cluster) = (Vec::new(), Vec::new());
        for c in 0..k {
            let (a, b) = (offsets[c].max(c0), offsets[c + 1].min(c1));
            if a < b {
                begin.push((a - c0) as i32);
                cluster.push(c as i32);
            }
        }
        let nseg = cluster.len() as i32;
        begin.push((c1 - c0) as i32);
        let begin = s.clone_htod(&begin).map_err(fail("copying the runs"))?;
        let cluster = s.clone_htod(&cluster).map_err(fail("copying the runs"))?;
        runs.push((begin, cluster, nseg));
    }
    let mut values = vec![0f64; wanted.len()];
    for (tile, out) in wanted.chunks(tile_rows).zip(values.chunks_mut(tile_rows)) {
        let m = tile.len();
        let mut rows_x = vec![0f64; m * d];
        for (to, &p) in rows_x.chunks_exact_mut(d).zip(tile) {
            to.copy_from_slice(&centred[p * d..(p + 1) * d]);
        }
        let row_norms: Vec<f64> = tile.iter().map(|&p| norms[p]).collect();
        let row_pos: Vec<i64> = tile.iter().map(|&p| p as i64).collect();
        let tile_dev = RowTile {
            x: s.clone_htod(&rows_x).map_err(fail("copying a tile's rows"))?,
            norms: s.clone_htod(&row_norms).map_err(fail("copying a tile's norms"))?,
            pos: s.clone_htod(&row_pos).map_err(fail("copying a tile's rows"))?,
        };
        let mut acc = s.alloc_zeros::<f64>(m * k).map_err(fail("allocating a tile's sums"))?;
        for ((begin, cluster, nseg), c0) in runs.iter().zip((0..n).step_by(tile_cols)) {
            check_stop(stop)?;
            let c1 = (c0 + tile_cols).min(n);
            let columns = all.slice(c0 * d..c1 * d);
            tile_sums(gpu, &tile_dev.x, &columns, &mut dots, m, c1 - c0, d)?;
            {
                let cnorm = all_norms.slice(c0..c1);
                let (m_i, cols_i, col0, k_i) = (m as i32, (c1 - c0) as i32, c0 as i64, k as i32);
                let mut b = s.launch_builder(&gpu.kernels.silhouette_tile);
                b.arg(&dots)
                    .arg(&tile_dev.norms)
                    .arg(&cnorm)
                    .arg(&tile_dev.pos)
                    .arg(&m_i)
                    .arg(&cols_i)
                    .arg(&col0)
                    .arg(begin)
                    .arg(cluster)
                    .arg(nseg)
                    .arg(&k_i)
                    .arg(&mut acc);
                // SAFETY: the kernel's parameters are exactly these, in this order; one warp per row.
                unsafe { b.launch(warp_per_row(m)) }.map_err(fail("launching silhouette_tile"))?;
            }
        }
        let sums = s.clone_dtoh(&acc).map_err(fail("copying the sums back"))?;
        for (r, (&p, v)) in tile.iter().zip(out.iter_mut()).enumerate() {
            *v = value_from_sums(labels[order[p] as usize] as usize, &sums[r * k..(r + 1) * k], counts);
        }
    }
    s.synchronize().map_err(fail("the silhouette failed on the device"))?;
    Ok(values)
}

/// A tile of rows on the device: the rows, their squared norms, their places in label order.
struct RowTile {
    x: CudaSlice<f64>,
    norms: CudaSlice<f64>,
    pos: CudaSlice<i64>,
}

/// A device failure: out of memory, or the algorithms' error saying what failed.
fn fail(what: &'static str) -> impl Fn(DriverError) -> DeviceFailure {
    move |e| {
        if out_of_memory(&e) {
            DeviceFailure::OutOfMemory
        } else {
            DeviceFailure::Other(Error::Backend(format!("{what}: {e}")))
        }
    }
}

/// `dots[r · cols + c] = rows_r · columns_c` (f64): one DGEMM.
#[allow(clippy::too_many_arguments)]
fn tile_sums(
    gpu: &Gpu,
    rows: &CudaSlice<f64>,
    columns: &CudaView<'_, f64>,
    dots: &mut CudaSlice<f64>,
    m: usize,
    cols: usize,
    d: usize,
) -> std::result::Result<(), DeviceFailure> {
    let cfg = row_dots(m, cols, d, 1.0f64, 0.0f64);
    // SAFETY: columns are cols × d, rows m × d, dots at least m × cols (column-major views of the
    // row-major buffers: dots holds the rows' dot products row by row).
    unsafe { gpu.blas.gemm(cfg, columns, rows, dots) }
        .map_err(|e| DeviceFailure::Other(Error::Backend(format!("cuBLAS DGEMM failed: {e}"))))
}
