//! The CUDA backend (feature `cuda`): float32 dense rows on an NVIDIA GPU, the same answers as
//! [`Cpu`].
//!
//! One pass over the rows, chunk by chunk ([`chunk_rows`]: at most [`CHUNK_ROWS`] rows and 1 GiB,
//! a function of the width alone, so that no result depends on the device's free memory). In
//! float32, `assign_fused` computes the CPU's own float32 scores and their argmin in one kernel,
//! so that labels are the CPU's; with TF32 (or `FASTKMEANS_CUDA_ASSIGN=gemm`), cuBLAS computes the
//! scores `X · Cᵀ` a tile at a time and `assign_tile` takes the argmin and re-checks every
//! near-tie exactly, in `f64`, so that labels are the exact nearest centre. Either way `dist2` has
//! the bits of the CPU's [`sq_dist_f64`](crate::kernels::points::sq_dist_f64). The sums of the M step are added on the
//! device in a fixed order: the chunk's rows sorted stably by label, each cluster's rows summed in
//! row order in segments of [`SEGMENT_ROWS`], the segments added in order, the chunks added in
//! order on the host. No float atomics: reruns give the same bits.
//!
//! k-means++ runs on the device too ([`seeding`]), with the CPU's bits.
//!
//! Float64 and sparse rows go to [`Cpu`]. The rows stay on the device between the passes of one
//! fit when they fit in half its free memory (the backend keeps the last rows it was given,
//! recognised by address and length); otherwise every pass copies them chunk by chunk.
//!
//! cudarc loads the libraries by name and panics when one is missing: [`loader::probe`] opens
//! them first, and every call into cudarc runs under `catch_unwind`, so a build with the feature
//! runs on a machine without a GPU, where [`Cuda::new`] fails with a reason.

mod dispersion;
mod guard;
pub mod loader;
pub mod module;
mod pass;
mod seeding;
mod silhouette;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::backend::contract::{Backend, SeedingSteps};
use crate::backend::cpu::Cpu;
use crate::backend::rows::{Data, Gathered, Rows};
use crate::error::{Error, Result};
use crate::kernels::metrics::Dispersion;
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::kernels::silhouette::check_labels;
use crate::kernels::sums::ClusterSums;
use guard::guarded;

pub use loader::Found;
pub use pass::{chunk_rows, Precision, CHUNK_ROWS, SEGMENT_ROWS};
pub use seeding::SEED_MIN_VALUES;

/// The dispersion indices go to the device while each chunk's per-cluster sums (the sort's
/// histogram, k per 1,024 rows, and the k × d sums) hold at most this many values: 2²⁶ (half a
/// GiB of f64). More clusters (the metrics allow up to n − 1) are summed on the CPU.
pub const DISPERSION_MAX_SUM_VALUES: usize = 1 << 26;

/// A session on a CUDA device: the device's context and compiled kernels (opened once per
/// process and shared), and the rows this session keeps on the device between passes. Make one
/// per fit or prediction: the rows kept are recognised by address, which is only safe while the
/// caller's data cannot change.
#[derive(Clone)]
pub struct Cuda {
    gpu: Arc<pass::Gpu>,
    residency: Arc<pass::Residency>,
}

impl std::fmt::Debug for Cuda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cuda({})", self.gpu.describe())
    }
}

impl Cuda {
    /// Opens device `ordinal`: loads the libraries ([`loader::probe`], which also searches
    /// `extra_dirs`), creates a context, compiles or loads the kernels. The error says why no
    /// usable GPU is there.
    pub fn new(ordinal: usize, precision: Precision, extra_dirs: &[PathBuf]) -> Result<Self> {
        /// The devices opened so far, by (ordinal, precision).
        type Opened = Vec<((usize, Precision), Arc<pass::Gpu>)>;
        static OPEN: Mutex<Opened> = Mutex::new(Vec::new());
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        let gpu = match open.iter().find(|(key, _)| *key == (ordinal, precision)) {
            Some((_, gpu)) => gpu.clone(),
            None => {
                let gpu = guarded(|| {
                    loader::probe(extra_dirs)?;
                    pass::Gpu::open(ordinal, precision)
                })
                .map_err(Error::Backend)?;
                let gpu = Arc::new(gpu);
                open.push(((ordinal, precision), gpu.clone()));
                gpu
            }
        };
        Ok(Self { gpu, residency: Arc::default() })
    }

    /// The number of CUDA devices, or why there are none to use.
    pub fn device_count(extra_dirs: &[PathBuf]) -> std::result::Result<usize, String> {
        guarded(|| {
            loader::probe(extra_dirs)?;
            let count = cudarc::driver::CudaContext::device_count().map_err(|e| format!("cuInit failed: {e}"))?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    /// The device's name, compute capability and precision, the kernels loaded (CUBIN or PTX, the
    /// NVRTC that compiled them, the cache file) and the libraries, for log lines.
    pub fn describe(&self) -> String {
        // The probe ran when the device was opened: this is its first answer, kept.
        let libraries = match loader::probe(&[]) {
            Ok(found) => format!(
                "; driver CUDA {}.{}, NVRTC {}, cuBLAS {}",
                found.driver_version / 1000,
                found.driver_version % 1000 / 10,
                found.nvrtc,
                found.cublas
            ),
            Err(_) => String::new(),
        };
        format!("{}{libraries}", self.gpu.describe())
    }

    /// One pass of float32 dense rows, or `None` when the rows are not float32 and dense (the
    /// caller then runs the CPU).
    #[allow(clippy::too_many_arguments)]
    fn pass<F: Scalar>(
        &self,
        x: Data<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
        sums: bool,
        keep: bool,
    ) -> Option<Result<Option<ClusterSums>>> {
        let Data::Dense(points) = x else { return None };
        let (rows, centre_rows) = (F::as_f32(points.as_slice())?, F::as_f32(centers.as_slice())?);
        let job = pass::Job { x: rows, d: points.d(), centers: centre_rows, weights, sums, keep };
        Some(guarded(|| self.gpu.run(&self.residency, &job, labels, dist2)).map_err(Error::Backend))
    }
}

impl Backend for Cuda {
    fn assign<F: Scalar>(
        &self,
        x: Data<'_, F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<()> {
        match self.pass(x, None, centers, labels, dist2, false, true) {
            Some(done) => done.map(|_| ()),
            None => Cpu.assign(x, centers, labels, dist2),
        }
    }

    fn assign_and_sum<F: Scalar>(
        &self,
        x: Data<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        match self.pass(x, weights, centers, labels, dist2, true, true) {
            Some(done) => done.map(|sums| sums.expect("a pass with sums returns them")),
            None => Cpu.assign_and_sum(x, weights, centers, labels, dist2),
        }
    }

    /// Float32 dense rows on the device (SGEMM, then the expansion with near-zero distances
    /// re-checked exactly); other rows by the default, on the CPU.
    fn distances<F: Scalar>(&self, x: Data<'_, F>, centers: Points<'_, F>, out: &mut [F]) -> Result<()> {
        let dense = match x {
            Data::Dense(points) => F::as_f32(points.as_slice()).zip(F::as_f32(centers.as_slice())),
            Data::Sparse(_) => None,
        };
        let Some((rows, centre_rows)) = dense else {
            x.distances(centers, out);
            return Ok(());
        };
        let mut found = vec![0f32; out.len()];
        guarded(|| self.gpu.distances(&self.residency, rows, centers.d(), centre_rows, &mut found))
            .map_err(Error::Backend)?;
        for (slot, v) in out.iter_mut().zip(found) {
            *slot = F::from_f64(f64::from(v));
        }
        Ok(())
    }

    /// Gathers on the CPU, then one pass over the batch, which is never kept on the device (the
    /// caller refills the same buffer with the next batch).
    fn gather_assign_and_sum<F: Scalar>(
        &self,
        x: Data<'_, F>,
        indices: &[usize],
        next: &[usize],
        batch: &mut Gathered<F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        let _ = next;
        x.gather_into(indices, batch);
        match self.pass(batch.view(), None, centers, labels, dist2, true, false) {
            Some(done) => done.map(|sums| sums.expect("a pass with sums returns them")),
            None => Cpu.assign_and_sum(batch.view(), None, centers, labels, dist2),
        }
    }

    /// Float32 dense rows that fit in half the device's free memory (in f64): the exact silhouette
    /// on the device ([`silhouette`]). Others on the CPU.
    fn silhouette_samples<F: Scalar>(
        &self,
        x: Data<'_, F>,
        labels: &[u32],
        k: usize,
        rows: Option<&[usize]>,
        stop: &AtomicBool,
    ) -> Result<Vec<f64>> {
        // Float32 dense rows, and some to compute (no rows, no features or no rows wanted: nothing
        // for the device to do).
        let dense = match x {
            Data::Dense(points) => Some(points).filter(|p| F::as_f32(p.as_slice()).is_some()),
            Data::Sparse(_) => None,
        };
        if let Some(points) = dense.filter(|p| p.n() > 0 && p.d() > 0 && rows.is_none_or(|r| !r.is_empty())) {
            check_labels(points.n(), labels, k, rows)?;
            // The outer error is a panic inside cudarc, the inner one the silhouette's own.
            let done = guarded(|| Ok(silhouette::silhouette(&self.gpu, points, labels, k, rows, stop)))
                .map_err(Error::Backend)??;
            if let Some(values) = done {
                return Ok(values);
            }
        }
        Cpu.silhouette_samples(x, labels, k, rows, stop)
    }

    /// Float32 dense rows (some, of some width) on the device, unless the per-chunk sums of so
    /// many clusters would take more than [`DISPERSION_MAX_SUM_VALUES`] (the metrics allow k up
    /// to n − 1); others on the CPU.
    fn dispersion<F: Scalar>(&self, x: Points<'_, F>, labels: &[u32], k: usize) -> Result<Dispersion> {
        let (n, d) = (x.n(), x.d());
        let sums = k * (chunk_rows(d).min(n).div_ceil(1024) + d);
        if let Some(rows) = F::as_f32(x.as_slice()).filter(|_| n > 0 && d > 0 && sums <= DISPERSION_MAX_SUM_VALUES) {
            check_labels(n, labels, k, None)?;
            let points = Points::from_rows(rows, d)?;
            return guarded(|| dispersion::dispersion(&self.gpu, points, labels, k)).map_err(Error::Backend);
        }
        Cpu.dispersion(x, labels, k)
    }

    /// Float32 dense rows of at least [`SEED_MIN_VALUES`] values: k-means++ on the device, over
    /// the rows this session keeps there when it holds these, else over a copy that fits in half
    /// the device's free memory. Others on the CPU.
    fn seeding_steps<'a, F: Scalar>(
        &'a self,
        x: Data<'a, F>,
        weights: Option<&'a [f64]>,
    ) -> Result<Option<Box<dyn SeedingSteps + 'a>>> {
        let Data::Dense(points) = x else { return Ok(None) };
        let Some(rows) = F::as_f32(points.as_slice()) else { return Ok(None) };
        if rows.len() < SEED_MIN_VALUES {
            return Ok(None);
        }
        let opened = guarded(|| seeding::DeviceSeeding::new(&self.gpu, &self.residency, rows, points.d(), weights))
            .map_err(Error::Backend)?;
        Ok(opened.map(|s| Box::new(s) as Box<dyn SeedingSteps + 'a>))
    }
}
