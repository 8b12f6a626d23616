//! The device side of one pass: buffers, the GEMM tiles, the kernels' launches, the sums.

use std::sync::{Arc, Mutex, OnceLock};

use cudarc::cublas::sys::{cublasMath_t, cublasOperation_t};
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, CudaView, LaunchConfig, PinnedHostSlice, PushKernelArg,
};

use super::module;
use crate::kernels::distance::squared_norms;
use crate::kernels::points::Points;
use crate::kernels::sums::ClusterSums;

/// Rows per chunk at most: the unit of copying, of the sums' partition and of their fixed order.
pub const CHUNK_ROWS: usize = 1 << 20;
/// A chunk's rows take at most this many bytes (fewer rows for wide data).
const CHUNK_BYTES: usize = 1 << 30;

/// Rows per chunk for `d` features: a function of `d` alone, so that no result depends on the
/// device's free memory. `FASTKMEANS_CUDA_CHUNK_ROWS` overrides it (tests: many chunks from a
/// small array; the sums' partition, and so their last bits, follow it).
pub fn chunk_rows(d: usize) -> usize {
    std::env::var("FASTKMEANS_CUDA_CHUNK_ROWS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&rows| rows > 0)
        .unwrap_or_else(|| (CHUNK_BYTES / (4 * d.max(1))).clamp(SORT_BLOCK, CHUNK_ROWS))
}

/// Whether rows may stay on the device between passes: `FASTKMEANS_CUDA_KEEP` = `never` (always
/// stream them: tests of the streamed path), `always` (keep any that fit, however small), else
/// the default rule ([`KEEP_MIN_VALUES`], half the free memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeepRule {
    Never,
    Always,
    Auto,
}

fn keep_rule() -> KeepRule {
    match std::env::var("FASTKMEANS_CUDA_KEEP").as_deref().map(str::trim) {
        Ok("never") => KeepRule::Never,
        Ok("always") => KeepRule::Always,
        _ => KeepRule::Auto,
    }
}
/// How a float32 pass finds each row's nearest centre.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Assigner {
    /// `assign_fused`: the CPU's own float32 scores (the same fused multiply-adds in the same
    /// order) and argmin in one kernel, so the labels are the CPU's bits, near-ties included, and
    /// no score tile goes through memory. Every float32 pass, by default.
    Fused,
    /// cuBLAS SGEMM tiles, then `assign_tile`: the exact nearest centre (near-ties re-checked in
    /// f64), which is the CPU's label except where two centres' float32 scores are within their
    /// rounding. The TF32 mode's, and float32's with `FASTKMEANS_CUDA_ASSIGN=gemm` (benchmarks).
    Gemm,
}

impl Assigner {
    /// TF32's is the GEMM path; float32's the fused kernel unless `FASTKMEANS_CUDA_ASSIGN` says
    /// `gemm` (`fused`, empty or unset: the fused kernel; anything else is an error).
    fn for_precision(precision: Precision) -> R<Self> {
        if precision == Precision::Tf32 {
            return Ok(Assigner::Gemm);
        }
        match std::env::var("FASTKMEANS_CUDA_ASSIGN").unwrap_or_default().trim() {
            "" | "fused" => Ok(Assigner::Fused),
            "gemm" => Ok(Assigner::Gemm),
            other => Err(format!("FASTKMEANS_CUDA_ASSIGN={other:?} is not one of \"fused\", \"gemm\"")),
        }
    }
}

/// The centres of one pass on the device, with what their [`Assigner`] needs.
struct DeviceCentres {
    rows: CudaSlice<f32>,
    k: usize,
    d: usize,
    how: Prepared,
}

enum Prepared {
    /// `assign_fused`'s norms, in float32.
    Fused { norms: CudaSlice<f32> },
    /// `assign_tile`'s norms in f64, the largest norm and the margin per unit of norm, and the
    /// score tile of `tile_rows` rows the GEMM writes.
    Gemm { norms: CudaSlice<f64>, max_norm: f64, margin: f64, scores: CudaSlice<f32>, tile_rows: usize },
}

/// Rows per block of `assign_fused` (its `FUSED_BM`), with 256 threads; also its centres per
/// block (`FUSED_BN`).
const FUSED_ROWS: usize = 128;

/// How `assign_fused` splits `k` centres for `m` rows on a device of `multiprocessors`: (groups,
/// centres per group). One group while the blocks of rows alone give every multiprocessor two
/// (the kernel's occupancy); fewer rows (a mini-batch of 5,000 is 40 blocks) split the centres
/// into groups of whole blocks of 128, at least enough to make up two blocks per multiprocessor
/// (or one block of 128 each). The labels are the same bits for any split (the groups' bests
/// are merged by score and index).
fn fused_split(m: usize, k: usize, multiprocessors: usize) -> (usize, usize) {
    let (row_blocks, centre_blocks) = (m.div_ceil(FUSED_ROWS).max(1), k.div_ceil(FUSED_ROWS).max(1));
    let wanted = 2 * multiprocessors;
    let groups = if row_blocks >= wanted { 1 } else { wanted.div_ceil(row_blocks).min(centre_blocks) };
    let span = (centre_blocks / groups).max(1) * FUSED_ROWS;
    (k.div_ceil(span).max(1), span)
}

/// Rows per segment of a cluster's sorted rows in the sums.
pub const SEGMENT_ROWS: usize = 256;
/// Rows per block of the stable sort (the scatter kernel's 32 warps of 32 lanes).
const SORT_BLOCK: usize = 1024;
/// `transform` re-checks exactly every distance whose expansion is within this factor of its
/// rounding bound: where fewer than 10 of its bits could be right.
pub const TRANSFORM_RECHECK: f64 = 1024.0;
/// The GEMM tile's score matrix is kept under this many bytes.
const TILE_BYTES: usize = 1 << 28;

/// Rows of fewer values are copied every pass (small enough that the copy is cheap, and the
/// buffers the algorithms refill in place, seeding samples and reductions, are that small).
const KEEP_MIN_VALUES: usize = 1 << 22;

pub(super) type R<T> = std::result::Result<T, String>;

/// How the distance tiles are multiplied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Plain float32 GEMM (no tensor cores).
    Float32,
    /// TF32 tensor cores: faster, rounder scores, and so more near-ties to re-check exactly; the
    /// labels and sums are those of [`Precision::Float32`].
    Tf32,
}

pub(super) fn err(what: &'static str) -> impl Fn(cudarc::driver::DriverError) -> String {
    move |e| format!("{what}: {e}")
}

/// What one pass computes: labels and distances, and the sums when `sums`.
pub struct Job<'a> {
    pub x: &'a [f32],
    pub d: usize,
    pub centers: &'a [f32],
    pub weights: Option<&'a [f64]>,
    pub sums: bool,
    /// Whether the rows may stay on the device for the next pass (not for a mini-batch, whose
    /// buffer is refilled in place).
    pub keep: bool,
}

pub(super) struct Kernels {
    assign_fused: CudaFunction,
    assign_merge: CudaFunction,
    assign_tile: CudaFunction,
    block_histogram: CudaFunction,
    scan_blocks: CudaFunction,
    scan_add: CudaFunction,
    cluster_starts: CudaFunction,
    scatter_sorted: CudaFunction,
    segment_sums: CudaFunction,
    cluster_totals: CudaFunction,
    distance_tile: CudaFunction,
    pub(super) seed_first: CudaFunction,
    pub(super) seed_advance: CudaFunction,
    pub(super) seed_block_sums: CudaFunction,
    pub(super) seed_score: CudaFunction,
    pub(super) seed_totals: CudaFunction,
    pub(super) silhouette_tile: CudaFunction,
    pub(super) dispersion_rows: CudaFunction,
}

/// The rows kept on the device between passes, with the address and length they came from
/// (shared with the k-means++ runs over them, [`super::seeding`]).
pub(super) struct Resident {
    key: (usize, usize, u64),
    pub(super) rows: Arc<CudaSlice<f32>>,
    /// The weights, with the address and length they came from.
    pub(super) weights: Option<(WeightsKey, Arc<CudaSlice<f64>>)>,
}

/// Weights on the host, by address and length.
type WeightsKey = (usize, usize);

impl Resident {
    /// Address and length, plus a fingerprint of the values: a temporary freed and replaced by
    /// another of the same length at the same address (k-means‖'s candidates per trial) must not
    /// be taken for the rows kept from the last pass. The weights by address and length.
    fn key(x: &[f32], weights: Option<&[f64]>) -> ((usize, usize, u64), Option<WeightsKey>) {
        ((x.as_ptr() as usize, x.len(), fingerprint(x)), weights.map(|w| (w.as_ptr() as usize, w.len())))
    }

    /// Whether these are the rows `x` with the weights `weights` (or none).
    pub(super) fn holds(&self, x: &[f32], weights: Option<&[f64]>) -> bool {
        let (key, wkey) = Self::key(x, weights);
        self.key == key && self.weights.as_ref().map(|w| w.0) == wkey
    }
}

pub(super) struct Gpu {
    pub(super) ctx: Arc<CudaContext>,
    /// The stream of the GEMMs and kernels.
    pub(super) stream: Arc<CudaStream>,
    /// The stream that copies the next chunk's rows while `stream` computes on this one, made
    /// when rows are first streamed: a second stream puts cudarc in its multi-stream mode, where
    /// every use of a buffer records the events that order it across streams (a cost the passes
    /// over rows kept on the device need not pay).
    copy: OnceLock<Arc<CudaStream>>,
    pub(super) blas: CudaBlas,
    pub(super) kernels: Kernels,
    precision: Precision,
    /// Streaming multiprocessors: how many blocks fill the device.
    multiprocessors: usize,
    name: String,
    arch: String,
    /// Which kernels were loaded: the CUBIN or the PTX, the NVRTC, the cache file.
    kernels_note: String,
    /// One pass at a time: the stream and the cuBLAS handle are shared by every session.
    pub(super) busy: Mutex<()>,
}

/// What one session (one call from Python: a fit, a predict) keeps between its passes: its rows
/// on the device, or the buffers that stream them.
#[derive(Default)]
pub(super) struct Residency(pub(super) Mutex<Kept>);

#[derive(Default)]
pub(super) struct Kept {
    pub(super) rows: Option<Resident>,
    staging: Option<Staging>,
}

/// Two pinned host buffers and two device buffers of one chunk each (and the chunk's weights on
/// the device): chunk `c + 1` is copied into the pinned buffer and sent by the copy stream while
/// the compute stream works on chunk `c`. cudarc's event tracking orders the two streams: a
/// device buffer is overwritten only after the kernels that read it, and read only after its
/// copy; a pinned buffer is refilled only after its last copy left.
struct Staging {
    ctx: Arc<CudaContext>,
    values: usize,
    host: [PinnedHostSlice<f32>; 2],
    dev: [CudaSlice<f32>; 2],
    weights: [CudaSlice<f64>; 2],
}

impl Staging {
    fn new(ctx: &Arc<CudaContext>, stream: &Arc<CudaStream>, rows: usize, d: usize) -> R<Self> {
        let values = rows * d;
        // SAFETY: the pinned buffers are written before they are read (whole chunks are copied in).
        let pinned = || unsafe { ctx.alloc_pinned::<f32>(values) }.map_err(err("allocating pinned host memory"));
        let dev = || stream.alloc_zeros::<f32>(values).map_err(err("allocating a chunk"));
        let weights = || stream.alloc_zeros::<f64>(rows).map_err(err("allocating a chunk's weights"));
        Ok(Self {
            ctx: ctx.clone(),
            values,
            host: [pinned()?, pinned()?],
            dev: [dev()?, dev()?],
            weights: [weights()?, weights()?],
        })
    }
}

impl Drop for Staging {
    /// Pinned memory is freed with the context current (the session may end on another thread).
    fn drop(&mut self) {
        let _ = self.ctx.bind_to_thread();
    }
}

/// One chunk of rows on the device: rows `start..start + m` of the caller's data.
pub(super) struct Chunk<'a> {
    pub(super) start: usize,
    pub(super) m: usize,
    pub(super) x: CudaView<'a, f32>,
    pub(super) weights: Option<CudaView<'a, f64>>,
}

impl Gpu {
    pub(super) fn open(ordinal: usize, precision: Precision) -> R<Self> {
        let count = CudaContext::device_count().map_err(err("cuInit failed"))?;
        if ordinal >= usize::try_from(count).unwrap_or(0) {
            return Err(format!("CUDA device {ordinal} does not exist ({count} devices)"));
        }
        let ctx = CudaContext::new(ordinal).map_err(err("cannot create a CUDA context"))?;
        let (major, minor) = ctx.compute_capability().map_err(err("cannot read the compute capability"))?;
        if major < 7 {
            return Err(format!("compute capability {major}.{minor} is below the 7.0 the kernels need"));
        }
        let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let multiprocessors = ctx
            .attribute(cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(err("cannot read the multiprocessor count"))?
            .max(1) as usize;
        let arch = format!("sm_{major}{minor}");
        let (loaded, kernels_note) = load_kernels(&ctx, u32::try_from(major * 10 + minor).unwrap_or(0))?;
        let f = |name: &str| loaded.load_function(name).map_err(|e| format!("kernel {name}: {e}"));
        let kernels = Kernels {
            assign_fused: f("assign_fused")?,
            assign_merge: f("assign_merge")?,
            assign_tile: f("assign_tile")?,
            block_histogram: f("block_histogram")?,
            scan_blocks: f("scan_blocks")?,
            scan_add: f("scan_add")?,
            cluster_starts: f("cluster_starts")?,
            scatter_sorted: f("scatter_sorted")?,
            segment_sums: f("segment_sums")?,
            cluster_totals: f("cluster_totals")?,
            distance_tile: f("distance_tile")?,
            seed_first: f("seed_first")?,
            seed_advance: f("seed_advance")?,
            seed_block_sums: f("seed_block_sums")?,
            seed_score: f("seed_score")?,
            seed_totals: f("seed_totals")?,
            silhouette_tile: f("silhouette_tile")?,
            dispersion_rows: f("dispersion_rows")?,
        };
        let stream = ctx.default_stream();
        let copy = OnceLock::new();
        let blas = CudaBlas::new(stream.clone()).map_err(|e| format!("cannot start cuBLAS: {e}"))?;
        let gpu = Self {
            ctx,
            stream,
            copy,
            blas,
            kernels,
            precision,
            multiprocessors,
            name,
            arch,
            kernels_note,
            busy: Mutex::new(()),
        };
        gpu.set_math(precision)?;
        Ok(gpu)
    }

    pub(super) fn describe(&self) -> String {
        let precision = match self.precision {
            Precision::Float32 => "float32",
            Precision::Tf32 => "tf32",
        };
        format!(
            "{} ({}, cuda:{}, {precision}; kernels: {})",
            self.name,
            self.arch,
            self.ctx.ordinal(),
            self.kernels_note
        )
    }

    /// The bound on the error of a score `||c||² − 2 x·c` per unit of `||x||·max||c||`: twice the
    /// worst-case rounding of a `d`-term float32 dot product (TF32 also rounds both factors to 10
    /// bits), doubled again as a safety factor.
    fn margin_per_norm(precision: Precision, d: usize) -> f64 {
        let u = f64::powi(2.0, -24);
        let dot = (d as f64 + 2.0) * u;
        let inputs = match precision {
            Precision::Float32 => 0.0,
            Precision::Tf32 => 2.0 * f64::powi(2.0, -11) + f64::powi(2.0, -22),
        };
        4.0 * (dot + inputs)
    }

    pub(super) fn run(
        &self,
        residency: &Residency,
        job: &Job<'_>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> R<Option<ClusterSums>> {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        self.ctx.bind_to_thread().map_err(err("cannot bind the CUDA context"))?;
        let (d, k) = (job.d, job.centers.len() / job.d);
        let n = labels.len();
        let s = &self.stream;
        let mut kept = residency.0.lock().unwrap_or_else(|e| e.into_inner());
        let chunk_cap = chunk_rows(d).min(n);
        let mut centres = self.centres(job.centers, d, chunk_cap)?;
        let mut labels_dev = s.alloc_zeros::<u32>(chunk_cap.max(1)).map_err(err("allocating labels"))?;
        let mut dist2_dev = s.alloc_zeros::<f64>(chunk_cap.max(1)).map_err(err("allocating distances"))?;
        let mut total = job.sums.then(|| ClusterSums::zeros(k, d));
        self.for_each_chunk(&mut kept, job.x, job.weights, job.sums, d, job.keep, |chunk, prefetch| {
            let Chunk { start, m, x: x_chunk, weights: w_chunk } = chunk;
            self.assign_chunk(&mut centres, &x_chunk, m, &mut labels_dev, &mut dist2_dev)?;
            // The assignment is queued: the next chunk is copied in meanwhile.
            prefetch()?;
            if let Some(total) = total.as_mut() {
                let sums = self.chunk_sums(&x_chunk, w_chunk.as_ref(), &centres.rows, &labels_dev, m, k, d)?;
                total.add(&sums);
            }
            let end = start + m;
            s.memcpy_dtoh(&labels_dev.slice(0..m), &mut labels[start..end]).map_err(err("copying labels back"))?;
            s.memcpy_dtoh(&dist2_dev.slice(0..m), &mut dist2[start..end]).map_err(err("copying distances back"))?;
            Ok(())
        })?;
        s.synchronize().map_err(err("the pass failed on the device"))?;
        Ok(total)
    }

    /// The centres of a pass on the device, prepared for the precision's [`Assigner`] (chunks of
    /// at most `chunk_cap` rows).
    fn centres(&self, centers: &[f32], d: usize, chunk_cap: usize) -> R<DeviceCentres> {
        let s = &self.stream;
        let k = centers.len() / d;
        let rows = s.clone_htod(centers).map_err(err("copying the centres"))?;
        let how = match Assigner::for_precision(self.precision)? {
            Assigner::Fused => {
                // The CPU's norms, summed in f64 and rounded once to float32.
                let norms = squared_norms(Points::from_rows(centers, d).map_err(|e| e.to_string())?);
                Prepared::Fused { norms: s.clone_htod(&norms).map_err(err("copying the centres' norms"))? }
            }
            Assigner::Gemm => {
                // ||c||² in f64, in feature order, and the largest ||c||: the margin's scale.
                let norms: Vec<f64> =
                    centers.chunks_exact(d).map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum()).collect();
                let max_norm = norms.iter().fold(0.0f64, |m, &v| m.max(v)).sqrt();
                let tile_rows = (TILE_BYTES / (4 * k)).clamp(32, chunk_cap.max(32));
                Prepared::Gemm {
                    norms: s.clone_htod(&norms).map_err(err("copying the centres' norms"))?,
                    max_norm,
                    margin: Self::margin_per_norm(self.precision, d),
                    scores: s.alloc_zeros::<f32>(tile_rows * k).map_err(err("allocating the score tile"))?,
                    tile_rows,
                }
            }
        };
        Ok(DeviceCentres { rows, k, d, how })
    }

    /// Labels and exact squared distances of the `m` rows of `x` (queued on the stream).
    fn assign_chunk(
        &self,
        centres: &mut DeviceCentres,
        x: &CudaView<'_, f32>,
        m: usize,
        labels: &mut CudaSlice<u32>,
        dist2: &mut CudaSlice<f64>,
    ) -> R<()> {
        if m == 0 {
            return Ok(()); // no blocks to launch
        }
        let s = &self.stream;
        let (k, d) = (centres.k, centres.d);
        let (k_i, d_i) = (k as i32, d as i32);
        match &mut centres.how {
            Prepared::Fused { norms } => {
                let (groups, span) = fused_split(m, k, self.multiprocessors);
                let (m_i, span_i, groups_i) = (m as i32, span as i32, groups as i32);
                let cfg = LaunchConfig {
                    grid_dim: (m.div_ceil(FUSED_ROWS) as u32, groups as u32, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                };
                // Each group's best per row, when the centres are split: every slot is written (each
                // group's blocks cover every row) before assign_merge reads it.
                let mut parts = if groups > 1 {
                    // SAFETY: as said, written before read.
                    let best = unsafe { s.alloc::<f32>(groups * m) }.map_err(err("allocating the groups' bests"))?;
                    // SAFETY: as above.
                    let idx = unsafe { s.alloc::<u32>(groups * m) }.map_err(err("allocating the groups' bests"))?;
                    Some((best, idx))
                } else {
                    None
                };
                let null = 0u64;
                let mut launch = s.launch_builder(&self.kernels.assign_fused);
                launch.arg(x).arg(&centres.rows).arg(&*norms).arg(&m_i).arg(&k_i).arg(&d_i).arg(&span_i);
                launch.arg(&mut *labels).arg(&mut *dist2);
                match parts.as_mut() {
                    Some((best, idx)) => launch.arg(best).arg(idx),
                    None => launch.arg(&null).arg(&null),
                };
                // SAFETY: the kernel's parameters are exactly these, in this order; the groups'
                // buffers are null only with one group, where the kernel does not touch them.
                unsafe { launch.launch(cfg) }.map_err(err("launching assign_fused"))?;
                if let Some((best, idx)) = &parts {
                    let mut launch = s.launch_builder(&self.kernels.assign_merge);
                    launch.arg(x).arg(&centres.rows).arg(best).arg(idx).arg(&groups_i).arg(&m_i).arg(&d_i);
                    launch.arg(labels).arg(dist2);
                    // SAFETY: as above.
                    unsafe { launch.launch(warp_per_row(m)) }.map_err(err("launching assign_merge"))?;
                }
            }
            Prepared::Gemm { norms, max_norm, margin, scores, tile_rows } => {
                for t0 in (0..m).step_by(*tile_rows) {
                    let rows = (*tile_rows).min(m - t0);
                    let x_tile = x.slice(t0 * d..(t0 + rows) * d);
                    self.scores(&centres.rows, &x_tile, scores, rows, k, d)?;
                    let rows_i = rows as i32;
                    let mut l_tile = labels.slice_mut(t0..t0 + rows);
                    let mut d_tile = dist2.slice_mut(t0..t0 + rows);
                    let mut launch = s.launch_builder(&self.kernels.assign_tile);
                    launch
                        .arg(&*scores)
                        .arg(&x_tile)
                        .arg(&centres.rows)
                        .arg(&*norms)
                        .arg(&rows_i)
                        .arg(&k_i)
                        .arg(&d_i)
                        .arg(&*max_norm)
                        .arg(&*margin)
                        .arg(&mut l_tile)
                        .arg(&mut d_tile);
                    // SAFETY: the kernel's parameters are exactly these, in this order.
                    unsafe { launch.launch(warp_per_row(rows)) }.map_err(err("launching assign_tile"))?;
                }
            }
        }
        Ok(())
    }

    /// The distances from every row of `x` to every centre (`out`: n × k, row-major), a tile of
    /// rows at a time: a float32 SGEMM (even in TF32 mode: the distances themselves are the
    /// result), then `distance_tile`, which re-checks exactly every distance the GEMM's rounding
    /// could have cancelled away ([`TRANSFORM_RECHECK`]).
    pub(super) fn distances(
        &self,
        residency: &Residency,
        x: &[f32],
        d: usize,
        centers: &[f32],
        out: &mut [f32],
    ) -> R<()> {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        self.ctx.bind_to_thread().map_err(err("cannot bind the CUDA context"))?;
        let k = centers.len() / d;
        let n = x.len() / d;
        let s = &self.stream;
        let cnorm: Vec<f64> =
            centers.chunks_exact(d).map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum()).collect();
        let centers_dev = s.clone_htod(centers).map_err(err("copying the centres"))?;
        let cnorm_dev = s.clone_htod(&cnorm).map_err(err("copying the centres' norms"))?;
        let mut kept = residency.0.lock().unwrap_or_else(|e| e.into_inner());
        let chunk_cap = chunk_rows(d).min(n);
        let tile_rows = (TILE_BYTES / (4 * k)).clamp(32, chunk_cap.max(32));
        let mut tile = s.alloc_zeros::<f32>(tile_rows * k).map_err(err("allocating the distance tile"))?;
        let margin = Self::margin_per_norm(Precision::Float32, d);
        self.set_math(Precision::Float32)?;
        let result = self
            .for_each_chunk(&mut kept, x, None, false, d, true, |chunk, prefetch| {
                let Chunk { start, m, x: x_chunk, .. } = chunk;
                for t0 in (0..m).step_by(tile_rows) {
                    let rows = tile_rows.min(m - t0);
                    let x_tile = x_chunk.slice(t0 * d..(t0 + rows) * d);
                    self.scores(&centers_dev, &x_tile, &mut tile, rows, k, d)?;
                    let (rows_i, k_i, d_i) = (rows as i32, k as i32, d as i32);
                    let cfg = warp_per_row(rows);
                    let mut launch = s.launch_builder(&self.kernels.distance_tile);
                    launch
                        .arg(&mut tile)
                        .arg(&x_tile)
                        .arg(&centers_dev)
                        .arg(&cnorm_dev)
                        .arg(&rows_i)
                        .arg(&k_i)
                        .arg(&d_i)
                        .arg(&margin)
                        .arg(&TRANSFORM_RECHECK);
                    // SAFETY: the kernel's parameters are exactly these, in this order.
                    unsafe { launch.launch(cfg) }.map_err(err("launching distance_tile"))?;
                    if t0 == 0 {
                        // The first tile is queued: the next chunk is copied in meanwhile.
                        prefetch()?;
                    }
                    let at = (start + t0) * k;
                    s.memcpy_dtoh(&tile.slice(0..rows * k), &mut out[at..at + rows * k])
                        .map_err(err("copying distances back"))?;
                }
                Ok(())
            })
            .and_then(|()| s.synchronize().map_err(err("the transform failed on the device")));
        self.set_math(self.precision)?;
        result
    }

    /// cuBLAS's math mode for `precision`.
    fn set_math(&self, precision: Precision) -> R<()> {
        let mode = match precision {
            Precision::Float32 => cublasMath_t::CUBLAS_DEFAULT_MATH,
            Precision::Tf32 => cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH,
        };
        // SAFETY: the handle is live; the mode is a valid enumerator.
        let status = unsafe { cudarc::cublas::sys::cublasSetMathMode(*self.blas.handle(), mode) };
        if status != cudarc::cublas::sys::cublasStatus_t::CUBLAS_STATUS_SUCCESS {
            return Err(format!("cublasSetMathMode failed: {status:?}"));
        }
        Ok(())
    }

    /// `scores[r·k + j] = x_r · c_j` for the `rows` rows of `x_tile`: one SGEMM.
    fn scores(
        &self,
        centers: &CudaSlice<f32>,
        x_tile: &CudaView<'_, f32>,
        scores: &mut CudaSlice<f32>,
        rows: usize,
        k: usize,
        d: usize,
    ) -> R<()> {
        let cfg = row_dots(rows, k, d, 1.0f32, 0.0f32);
        // SAFETY: the shapes above match the buffers: centres k × d, rows × d, scores ≥ rows × k.
        unsafe { self.blas.gemm(cfg, centers, x_tile, scores) }.map_err(|e| format!("cuBLAS SGEMM failed: {e}"))
    }

    /// Calls `body` on every chunk of `x` (rows of width `d`, with `weights` when given and
    /// `use_weights`; the rows kept on the device are recognised with their weights), in order,
    /// each on the device: from the rows kept there ([`Gpu::make_resident`]), else copied
    /// in. A single chunk is copied directly; more go through [`Staging`]: `body` gets a
    /// `prefetch` to call once its work on the chunk is queued, which starts copying the next
    /// chunk (through a pinned buffer, on the copy stream) while the device computes. The chunks
    /// and their order are the same on every path, so every result is too.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn for_each_chunk(
        &self,
        kept: &mut Kept,
        x: &[f32],
        all_weights: Option<&[f64]>,
        use_weights: bool,
        d: usize,
        keep: bool,
        mut body: impl FnMut(Chunk<'_>, &mut dyn FnMut() -> R<()>) -> R<()>,
    ) -> R<()> {
        let n = x.len() / d;
        let chunk = chunk_rows(d);
        let nchunks = n.div_ceil(chunk);
        let part = |c: usize| (c * chunk, ((c + 1) * chunk).min(n));
        self.make_resident(&mut kept.rows, x, all_weights, keep)?;
        let weights = all_weights.filter(|_| use_weights);
        if let Some(r) = kept.rows.as_ref() {
            for c in 0..nchunks {
                let (start, end) = part(c);
                let w = r.weights.as_ref().filter(|_| weights.is_some()).map(|(_, w)| w.slice(start..end));
                body(Chunk { start, m: end - start, x: r.rows.slice(start * d..end * d), weights: w }, &mut || Ok(()))?;
            }
            return Ok(());
        }
        if nchunks <= 1 {
            if n == 0 {
                return Ok(());
            }
            let rows = self.stream.clone_htod(x).map_err(err("copying rows"))?;
            let w = match weights {
                Some(w) => Some(self.stream.clone_htod(w).map_err(err("copying weights"))?),
                None => None,
            };
            let chunk = Chunk { start: 0, m: n, x: rows.slice(0..n * d), weights: w.as_ref().map(|w| w.slice(0..n)) };
            return body(chunk, &mut || Ok(()));
        }
        let copy = match self.copy.get() {
            Some(copy) => copy,
            None => {
                let made = self.ctx.new_stream().map_err(err("cannot create the copy stream"))?;
                self.copy.get_or_init(|| made)
            }
        };
        let staging = match kept.staging.take() {
            Some(staging) if staging.values == chunk * d => staging,
            _ => Staging::new(&self.ctx, &self.stream, chunk, d)?,
        };
        let staging = kept.staging.insert(staging);
        let (start, end) = part(0);
        let w0 = weights.map(|w| &w[start..end]);
        let (host0, dev0, w0_dev) = (&mut staging.host[0], &mut staging.dev[0], &mut staging.weights[0]);
        self.upload(copy, &x[start * d..end * d], w0, host0, dev0, w0_dev)?;
        for c in 0..nchunks {
            let (start, end) = part(c);
            let m = end - start;
            // This chunk's buffers (slot c % 2) to read, the other slot's to fill.
            let (dev_lo, dev_hi) = staging.dev.split_at_mut(1);
            let (w_lo, w_hi) = staging.weights.split_at_mut(1);
            let (host_lo, host_hi) = staging.host.split_at_mut(1);
            let ((cur, next), (cur_w, next_w), next_host) = if c % 2 == 0 {
                ((&dev_lo[0], &mut dev_hi[0]), (&w_lo[0], &mut w_hi[0]), &mut host_hi[0])
            } else {
                ((&dev_hi[0], &mut dev_lo[0]), (&w_hi[0], &mut w_lo[0]), &mut host_lo[0])
            };
            let mut sent = c + 1 >= nchunks;
            let mut prefetch = || -> R<()> {
                if sent {
                    return Ok(());
                }
                sent = true;
                let (a, b) = part(c + 1);
                self.upload(copy, &x[a * d..b * d], weights.map(|w| &w[a..b]), next_host, next, next_w)
            };
            let chunk = Chunk { start, m, x: cur.slice(0..m * d), weights: weights.map(|_| cur_w.slice(0..m)) };
            body(chunk, &mut prefetch)?;
            prefetch()?;
        }
        Ok(())
    }

    /// Sends one chunk's rows (and weights) to `dev` on the copy stream: a whole chunk through the
    /// pinned buffer `host` (filled by the CPU's threads once its previous copy has left; the copy
    /// itself runs while the caller goes on), the shorter last chunk straight from `x`.
    fn upload(
        &self,
        c: &Arc<CudaStream>,
        x: &[f32],
        weights: Option<&[f64]>,
        host: &mut PinnedHostSlice<f32>,
        dev: &mut CudaSlice<f32>,
        dev_weights: &mut CudaSlice<f64>,
    ) -> R<()> {
        if x.len() == host.len() {
            let pinned = host.as_mut_slice().map_err(err("waiting for a pinned buffer"))?;
            copy_on_threads(x, pinned);
            c.memcpy_htod(&*host, dev).map_err(err("copying rows"))?;
        } else {
            c.memcpy_htod(x, &mut dev.slice_mut(0..x.len())).map_err(err("copying rows"))?;
        }
        if let Some(w) = weights {
            c.memcpy_htod(w, &mut dev_weights.slice_mut(0..w.len())).map_err(err("copying weights"))?;
        }
        Ok(())
    }

    /// Keeps the rows (and weights) on the device when they fit in half its free memory (and hold
    /// at least [`KEEP_MIN_VALUES`] values; `FASTKMEANS_CUDA_KEEP` overrides: [`keep_rule`]),
    /// reusing the copy of the previous pass when the caller passes the same buffer again.
    pub(super) fn make_resident(
        &self,
        resident: &mut Option<Resident>,
        x: &[f32],
        weights: Option<&[f64]>,
        keep: bool,
    ) -> R<()> {
        if resident.as_ref().is_some_and(|r| r.holds(x, weights)) {
            return Ok(());
        }
        *resident = None;
        let (key, wkey) = Resident::key(x, weights);
        let rule = keep_rule();
        if !keep || rule == KeepRule::Never || (rule == KeepRule::Auto && x.len() < KEEP_MIN_VALUES) || x.is_empty() {
            return Ok(());
        }
        let (free, _) = self.ctx.mem_get_info().map_err(err("cannot read the free memory"))?;
        let bytes = std::mem::size_of_val(x) + weights.map_or(0, std::mem::size_of_val);
        if bytes > free / 2 {
            return Ok(());
        }
        let rows = Arc::new(self.stream.clone_htod(x).map_err(err("copying the rows"))?);
        let weights = match weights {
            Some(w) => {
                let on_device = self.stream.clone_htod(w).map_err(err("copying weights"))?;
                Some((wkey.expect("weights given"), Arc::new(on_device)))
            }
            None => None,
        };
        *resident = Some(Resident { key, rows, weights });
        Ok(())
    }

    /// The M step's sums of one chunk, in a fixed order: the rows sorted stably by label (block
    /// histograms, a prefix sum, a scatter), each cluster's rows summed in row order in segments
    /// of [`SEGMENT_ROWS`], each cluster's segments added in order.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn chunk_sums(
        &self,
        x: &CudaView<'_, f32>,
        weights: Option<&CudaView<'_, f64>>,
        centers: &CudaSlice<f32>,
        labels: &CudaSlice<u32>,
        m: usize,
        k: usize,
        d: usize,
    ) -> R<ClusterSums> {
        let s = &self.stream;
        let nblocks = m.div_ceil(SORT_BLOCK);
        let (m_i, k_i, nb_i, block_i) = (m as i32, k as i32, nblocks as i32, SORT_BLOCK as i32);
        let mut cursor = s.alloc_zeros::<u32>(k * nblocks).map_err(err("allocating the histogram"))?;
        let launch_cfg = |grid: usize, block: u32| LaunchConfig {
            grid_dim: (grid as u32, 1, 1),
            block_dim: (block, 1, 1),
            shared_mem_bytes: 0,
        };
        {
            let mut b = s.launch_builder(&self.kernels.block_histogram);
            b.arg(labels).arg(&m_i).arg(&nb_i).arg(&block_i).arg(&mut cursor);
            // SAFETY: parameters as declared in kernels.cu.
            unsafe { b.launch(launch_cfg(nblocks, 256)) }.map_err(err("launching block_histogram"))?;
        }
        self.exclusive_scan(&mut cursor, k * nblocks)?;
        let mut starts = s.alloc_zeros::<u32>(k + 1).map_err(err("allocating starts"))?;
        {
            let mut b = s.launch_builder(&self.kernels.cluster_starts);
            b.arg(&cursor).arg(&k_i).arg(&nb_i).arg(&m_i).arg(&mut starts);
            // SAFETY: as above.
            unsafe { b.launch(launch_cfg((k + 1).div_ceil(256), 256)) }.map_err(err("launching cluster_starts"))?;
        }
        let mut order = s.alloc_zeros::<u32>(m).map_err(err("allocating the order"))?;
        {
            let mut b = s.launch_builder(&self.kernels.scatter_sorted);
            b.arg(labels).arg(&m_i).arg(&nb_i).arg(&mut cursor).arg(&mut order);
            // SAFETY: as above.
            unsafe { b.launch(launch_cfg(nblocks, SORT_BLOCK as u32)) }.map_err(err("launching scatter_sorted"))?;
        }
        // The segments, from each cluster's count.
        let starts_host = s.clone_dtoh(&starts).map_err(err("copying the cluster starts"))?;
        let (mut seg_begin, mut seg_end, mut seg_cluster, mut seg_first) = (vec![], vec![], vec![], vec![0u32]);
        for c in 0..k {
            let (a, b) = (starts_host[c] as usize, starts_host[c + 1] as usize);
            for lo in (a..b).step_by(SEGMENT_ROWS) {
                seg_begin.push(lo as u32);
                seg_end.push((lo + SEGMENT_ROWS).min(b) as u32);
                seg_cluster.push(c as u32);
            }
            seg_first.push(seg_begin.len() as u32);
        }
        let nseg = seg_begin.len();
        let threads = d.next_power_of_two().clamp(32, 256) as u32;
        let d_i = d as i32;
        let mut partial = s.alloc_zeros::<f64>(nseg.max(1) * d).map_err(err("allocating partial sums"))?;
        let mut partial_w = s.alloc_zeros::<f64>(nseg.max(1)).map_err(err("allocating partial weights"))?;
        let mut partial_m = s.alloc_zeros::<u64>(nseg.max(1)).map_err(err("allocating partial members"))?;
        if nseg > 0 {
            let (b_dev, e_dev, c_dev) = (
                s.clone_htod(&seg_begin).map_err(err("copying segments"))?,
                s.clone_htod(&seg_end).map_err(err("copying segments"))?,
                s.clone_htod(&seg_cluster).map_err(err("copying segments"))?,
            );
            let null = 0u64;
            let mut b = s.launch_builder(&self.kernels.segment_sums);
            b.arg(x).arg(centers);
            match weights {
                Some(w) => b.arg(w),
                None => b.arg(&null),
            };
            b.arg(&order)
                .arg(&b_dev)
                .arg(&e_dev)
                .arg(&c_dev)
                .arg(&d_i)
                .arg(&mut partial)
                .arg(&mut partial_w)
                .arg(&mut partial_m);
            // SAFETY: as above; a null weights pointer means every weight is 1.
            unsafe { b.launch(launch_cfg(nseg, threads)) }.map_err(err("launching segment_sums"))?;
        }
        let first_dev = s.clone_htod(&seg_first).map_err(err("copying segments"))?;
        let mut deltas = s.alloc_zeros::<f64>(k * d).map_err(err("allocating sums"))?;
        let mut wsum = s.alloc_zeros::<f64>(k).map_err(err("allocating sums"))?;
        let mut members = s.alloc_zeros::<u64>(k).map_err(err("allocating sums"))?;
        {
            let mut b = s.launch_builder(&self.kernels.cluster_totals);
            b.arg(&partial)
                .arg(&partial_w)
                .arg(&partial_m)
                .arg(&first_dev)
                .arg(&d_i)
                .arg(&mut deltas)
                .arg(&mut wsum)
                .arg(&mut members);
            // SAFETY: as above.
            unsafe { b.launch(launch_cfg(k, threads)) }.map_err(err("launching cluster_totals"))?;
        }
        Ok(ClusterSums {
            deltas: s.clone_dtoh(&deltas).map_err(err("copying sums back"))?,
            weights: s.clone_dtoh(&wsum).map_err(err("copying sums back"))?,
            members: s.clone_dtoh(&members).map_err(err("copying sums back"))?,
        })
    }

    /// Exclusive prefix sum of `values[..len]` in place: blocks of 1024, then the blocks' totals
    /// (recursively), then each block's offset added.
    fn exclusive_scan(&self, values: &mut CudaSlice<u32>, len: usize) -> R<()> {
        let s = &self.stream;
        let blocks = len.div_ceil(1024).max(1);
        let mut totals = s.alloc_zeros::<u32>(blocks).map_err(err("allocating scan totals"))?;
        let len_i = len as i64;
        let cfg = LaunchConfig { grid_dim: (blocks as u32, 1, 1), block_dim: (1024, 1, 1), shared_mem_bytes: 0 };
        {
            let mut b = s.launch_builder(&self.kernels.scan_blocks);
            b.arg(&mut *values).arg(&len_i).arg(&mut totals);
            // SAFETY: parameters as declared in kernels.cu.
            unsafe { b.launch(cfg) }.map_err(err("launching scan_blocks"))?;
        }
        if blocks > 1 {
            self.exclusive_scan(&mut totals, blocks)?;
            let mut b = s.launch_builder(&self.kernels.scan_add);
            b.arg(&mut *values).arg(&len_i).arg(&totals);
            // SAFETY: as above.
            unsafe { b.launch(cfg) }.map_err(err("launching scan_add"))?;
        }
        Ok(())
    }
}

/// `to.copy_from_slice(from)` on a few scoped threads of its own. Not rayon's: the caller holds
/// the device's lock, and a rayon worker waiting here could take up another job (a trial of the
/// same fit) that asks for the lock again on the same thread.
fn copy_on_threads(from: &[f32], to: &mut [f32]) {
    const PIECE: usize = 1 << 20;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let share = from.len().div_ceil(threads).next_multiple_of(PIECE).max(PIECE);
    if share >= from.len() {
        to.copy_from_slice(from);
        return;
    }
    std::thread::scope(|scope| {
        for (to, from) in to.chunks_mut(share).zip(from.chunks(share)) {
            scope.spawn(move || to.copy_from_slice(from));
        }
    });
}

/// cuBLAS's configuration for `out[r · cols + c] = rows_r · columns_c`: `m` rows and `cols`
/// columns, both row-major of width `d`, and `out` row-major (cuBLAS, column-major, computes
/// `columnsᵀ · rows` with the buffers as they are: gemm(cfg, columns, rows, out)).
pub(super) fn row_dots<T>(m: usize, cols: usize, d: usize, one: T, zero: T) -> GemmConfig<T> {
    GemmConfig {
        transa: cublasOperation_t::CUBLAS_OP_T,
        transb: cublasOperation_t::CUBLAS_OP_N,
        m: cols as i32,
        n: m as i32,
        k: d as i32,
        alpha: one,
        lda: d as i32,
        ldb: d as i32,
        beta: zero,
        ldc: cols as i32,
    }
}

/// One warp per row: blocks of 256 threads (8 rows).
pub(super) fn warp_per_row(rows: usize) -> LaunchConfig {
    let threads = 256u32;
    LaunchConfig {
        grid_dim: ((rows * 32).div_ceil(threads as usize) as u32, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Loads the kernels for a device of architecture `arch` (`10 × major + minor`), trying in
/// order: the target [`module::choose`] picks (a CUBIN for the device, from the disk cache or
/// compiled now), the same compiled afresh (a stale or damaged cache file), then PTX for the same
/// architecture (a CUBIN the driver refuses). Returns the module and a note of what was loaded
/// and what was refused on the way.
fn load_kernels(ctx: &Arc<CudaContext>, arch: u32) -> R<(Arc<cudarc::driver::CudaModule>, String)> {
    let first = module::compile(arch)?;
    let mut refused: Vec<String> = Vec::new();
    let mut attempts = vec![(first.target, first.cached)];
    if first.cached {
        attempts.push((first.target, false));
    }
    if first.target.kind == module::Kind::Cubin {
        attempts.push((module::Target { kind: module::Kind::Ptx, arch }, false));
    }
    for (i, (target, use_cache)) in attempts.into_iter().enumerate() {
        let compiled = match i {
            0 => first.clone(),
            _ => match module::compile_target(target, use_cache) {
                Ok(compiled) => compiled,
                Err(e) => {
                    refused.push(e);
                    continue;
                }
            },
        };
        match ctx.load_module(compiled.module()) {
            Ok(loaded) => {
                let mut note = compiled.describe();
                if !refused.is_empty() {
                    note = format!("{note}; refused before: {}", refused.join("; "));
                }
                return Ok((loaded, note));
            }
            Err(e) => refused.push(format!("{} ({e})", compiled.describe())),
        }
    }
    Err(format!("the driver refused the compiled kernels: {}", refused.join("; ")))
}

/// A hash of 64 values spread evenly over `values` (all of them when fewer): cheap, and different
/// for two buffers that differ at any of those positions.
fn fingerprint(values: &[f32]) -> u64 {
    const SAMPLES: usize = 64;
    let step = (values.len() / SAMPLES).max(1);
    values
        .iter()
        .step_by(step)
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, v| (hash ^ u64::from(v.to_bits())).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_centres_are_split_only_when_the_rows_do_not_fill_the_device() {
        // 10M rows: 78,125 blocks, one group.
        assert_eq!(fused_split(10_000_000, 1024, 132), (1, 1024));
        // A mini-batch of 5,000 rows (40 blocks) against 1,024 centres on 132 multiprocessors:
        // 264 blocks wanted, so at least 7 groups of whole 128-centre blocks: 8 of one block.
        assert_eq!(fused_split(5_000, 1024, 132), (8, 128));
        // 40 blocks against 4,096 centres (32 blocks): at least 7 groups, of 4 blocks: 8.
        let (groups, span) = fused_split(5_000, 4096, 132);
        assert_eq!((groups, span), (8, 512));
        assert!(groups * span >= 4096 && (groups - 1) * span < 4096, "no empty group");
        let (groups, span) = fused_split(5_000, 1000, 132);
        assert!(span % 128 == 0 && groups * span >= 1000 && (groups - 1) * span < 1000);
        // Few centres: never more groups than blocks of 128.
        assert_eq!(fused_split(1_000, 100, 132), (1, 128));
        assert_eq!(fused_split(1_000, 300, 132), (3, 128));
        assert_eq!(fused_split(0, 300, 132).0, 3);
    }

    #[test]
    fn chunks_depend_on_the_width_alone_unless_overridden_and_the_keep_rule_parses() {
        // The only test that sets these variables (no other test here reads them).
        std::env::remove_var("FASTKMEANS_CUDA_CHUNK_ROWS");
        assert_eq!(chunk_rows(128), CHUNK_ROWS);
        assert_eq!(chunk_rows(1024), 1 << 18); // 1 GiB of rows
        assert_eq!(chunk_rows(1 << 30), SORT_BLOCK);
        for (value, rows) in [("4096", 4096), (" 33 ", 33), ("0", CHUNK_ROWS), ("many", CHUNK_ROWS)] {
            std::env::set_var("FASTKMEANS_CUDA_CHUNK_ROWS", value);
            assert_eq!(chunk_rows(128), rows, "{value:?}");
        }
        std::env::remove_var("FASTKMEANS_CUDA_CHUNK_ROWS");
        for (value, rule) in [("never", KeepRule::Never), ("always", KeepRule::Always), ("sometimes", KeepRule::Auto)] {
            std::env::set_var("FASTKMEANS_CUDA_KEEP", value);
            assert_eq!(keep_rule(), rule, "{value:?}");
        }
        std::env::remove_var("FASTKMEANS_CUDA_KEEP");
        assert_eq!(keep_rule(), KeepRule::Auto);
    }

    #[test]
    fn the_fingerprint_sees_a_change_at_a_sampled_position() {
        let mut values: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let before = fingerprint(&values);
        values[15 * 10] += 1.0; // 1000 / 64 = a sample every 15 values
        assert_ne!(fingerprint(&values), before);
    }
}
