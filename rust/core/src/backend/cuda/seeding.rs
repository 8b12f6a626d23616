//! k-means++ on the device ([`SeedingSteps`]): the rows, their weights and every row's `d2` stay
//! on the device for the whole run; each step sends the candidates' row numbers and brings back
//! what the host draws and chooses from (each block's potential, the candidates' gains, one
//! block's `d2`). The kernels (`seed_*` in `kernels.cu`) measure every row, with the bits of the
//! CPU's k-means++ (`tests/cuda_emulated.rs` compares them), so the same rows are chosen.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, DriverError, LaunchConfig, PushKernelArg};

use super::guard::{guarded, out_of_memory};
use super::pass::{err, Gpu, Residency};
use crate::backend::contract::SeedingSteps;
use crate::error::{Error, Result};
use crate::kernels::parallel::ROW_BLOCK;

// The kernels' blocks of rows (SEED_BLOCK) are the CPU's.
const _: () = assert!(ROW_BLOCK == 128);

/// Rows of fewer values are seeded on the CPU: a step there takes less time than the device's
/// launches and copies of a step.
pub const SEED_MIN_VALUES: usize = 1 << 18;

type R<T> = std::result::Result<T, String>;

/// One k-means++ run's state on the device.
pub(super) struct DeviceSeeding {
    gpu: Arc<Gpu>,
    n: usize,
    d: usize,
    x: Arc<CudaSlice<f32>>,
    weights: Option<Arc<CudaSlice<f64>>>,
    d2: CudaSlice<f64>,
    sums: CudaSlice<f64>,
    /// The candidates of the last scoring, by row.
    candidates: Vec<usize>,
}

impl DeviceSeeding {
    /// The run's buffers on the device: the rows (`d` features each) and weights the session
    /// keeps there when it holds these ([`Residency`]), else copies of them. `None` (the caller
    /// seeds on the CPU) when the copies would take more than half the free memory, or the device
    /// cannot hold them.
    pub(super) fn new(
        gpu: &Arc<Gpu>,
        residency: &Residency,
        x: &[f32],
        d: usize,
        weights: Option<&[f64]>,
    ) -> R<Option<Self>> {
        let _busy = gpu.busy.lock().unwrap_or_else(|e| e.into_inner());
        gpu.ctx.bind_to_thread().map_err(err("cannot bind the CUDA context"))?;
        let n = x.len() / d;
        let s = &gpu.stream;
        let kept = residency.0.lock().unwrap_or_else(|e| e.into_inner());
        let shared = kept.rows.as_ref().filter(|r| r.holds(x, weights)).map(|r| {
            let w = r.weights.as_ref().filter(|_| weights.is_some()).map(|(_, w)| w.clone());
            (r.rows.clone(), w)
        });
        drop(kept);
        let (x, weights) = match shared {
            Some(shared) => shared,
            None => {
                let bytes = std::mem::size_of_val(x) + weights.map_or(0, std::mem::size_of_val);
                let (free, _) = gpu.ctx.mem_get_info().map_err(err("cannot read the free memory"))?;
                if bytes + 16 * n > free / 2 {
                    return Ok(None);
                }
                // A copy the device cannot hold (another process took the memory) seeds on the CPU.
                let Some(rows) = unless_out_of_memory(s.clone_htod(x), "copying the rows")? else { return Ok(None) };
                let weights = match weights {
                    Some(w) => match unless_out_of_memory(s.clone_htod(w), "copying the weights")? {
                        Some(w) => Some(Arc::new(w)),
                        None => return Ok(None),
                    },
                    None => None,
                };
                (Arc::new(rows), weights)
            }
        };
        let Some(d2) = unless_out_of_memory(s.alloc_zeros::<f64>(n.max(1)), "allocating the distances")? else {
            return Ok(None);
        };
        let potentials = s.alloc_zeros::<f64>(n.div_ceil(ROW_BLOCK).max(1));
        let Some(sums) = unless_out_of_memory(potentials, "allocating the potentials")? else { return Ok(None) };
        Ok(Some(Self { gpu: gpu.clone(), n, d, x, weights, d2, sums, candidates: Vec::new() }))
    }

    fn blocks(&self) -> usize {
        self.n.div_ceil(ROW_BLOCK)
    }

    /// Runs `f` with the device to this thread, then waits for it.
    fn on_device<T>(&mut self, what: &'static str, f: impl FnOnce(&mut Self) -> R<T>) -> Result<T> {
        let gpu = self.gpu.clone();
        guarded(|| {
            let _busy = gpu.busy.lock().unwrap_or_else(|e| e.into_inner());
            gpu.ctx.bind_to_thread().map_err(err("cannot bind the CUDA context"))?;
            let out = f(self)?;
            gpu.stream.synchronize().map_err(err(what))?;
            Ok(out)
        })
        .map_err(Error::Backend)
    }

    /// `seed_first` (`advance` false) or `seed_advance` with row `row`, then each block's potential.
    fn measure(&mut self, row: usize, advance: bool) -> R<Vec<f64>> {
        let (n, d, row) = (self.n as i64, self.d as i32, row as i64);
        let kernels = &self.gpu.kernels;
        let kernel = if advance { &kernels.seed_advance } else { &kernels.seed_first };
        let mut b = self.gpu.stream.launch_builder(kernel);
        b.arg(&*self.x).arg(&n).arg(&d).arg(&row).arg(&mut self.d2);
        // SAFETY: parameters as declared in kernels.cu; one thread per row.
        unsafe { b.launch(threads(self.n, 256)) }.map_err(err("launching a seeding pass"))?;
        self.block_sums()
    }

    /// Each block's potential (`seed_block_sums`), copied back.
    fn block_sums(&mut self) -> R<Vec<f64>> {
        let blocks = self.blocks();
        let (n, nblocks) = (self.n as i64, blocks as i64);
        let null = 0u64;
        let mut b = self.gpu.stream.launch_builder(&self.gpu.kernels.seed_block_sums);
        b.arg(&self.d2);
        match &self.weights {
            Some(w) => b.arg(&**w),
            None => b.arg(&null),
        };
        b.arg(&n).arg(&nblocks).arg(&mut self.sums);
        // SAFETY: as above; a null weights pointer means every weight is 1; one thread per block.
        unsafe { b.launch(threads(blocks, 128)) }.map_err(err("launching seed_block_sums"))?;
        self.gpu.stream.clone_dtoh(&self.sums.slice(0..blocks)).map_err(err("copying the potentials back"))
    }
}

impl Drop for DeviceSeeding {
    /// The buffers are freed with the context current on the thread that drops them.
    fn drop(&mut self) {
        let _ = self.gpu.ctx.bind_to_thread();
    }
}

/// `Some` of what an allocation or copy gave, `None` where the device is out of memory (the
/// caller seeds on the CPU); any other failure is an error saying `what` failed.
fn unless_out_of_memory<T>(done: std::result::Result<T, DriverError>, what: &'static str) -> R<Option<T>> {
    match done {
        Ok(value) => Ok(Some(value)),
        Err(e) if out_of_memory(&e) => Ok(None),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// One thread per item, `per_block` to a block.
fn threads(items: usize, per_block: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (items.div_ceil(per_block as usize).max(1) as u32, 1, 1),
        block_dim: (per_block, 1, 1),
        shared_mem_bytes: 0,
    }
}

impl SeedingSteps for DeviceSeeding {
    fn first(&mut self, row: usize) -> Result<Vec<f64>> {
        self.on_device("the first seeding pass failed on the device", |s| s.measure(row, false))
    }

    fn score(&mut self, candidates: &[usize]) -> Result<Vec<f64>> {
        self.candidates = candidates.to_vec();
        self.on_device("a seeding step failed on the device", |s| {
            let stream = s.gpu.stream.clone();
            let trials = candidates.len();
            let rows: Vec<i64> = candidates.iter().map(|&c| c as i64).collect();
            let rows = stream.clone_htod(&rows).map_err(err("copying the candidates"))?;
            let mut gains = stream.alloc_zeros::<f64>(s.blocks().max(1) * trials).map_err(err("allocating gains"))?;
            let mut totals = stream.alloc_zeros::<f64>(trials).map_err(err("allocating gains"))?;
            let (n, d, trials_i, nblocks) = (s.n as i64, s.d as i32, trials as i32, s.blocks() as i64);
            let null = 0u64;
            {
                let mut b = stream.launch_builder(&s.gpu.kernels.seed_score);
                b.arg(&*s.x);
                match &s.weights {
                    Some(w) => b.arg(&**w),
                    None => b.arg(&null),
                };
                b.arg(&s.d2).arg(&n).arg(&d).arg(&rows).arg(&trials_i).arg(&mut gains);
                let cfg = LaunchConfig {
                    grid_dim: (s.blocks() as u32, 1, 1),
                    block_dim: (ROW_BLOCK as u32, 1, 1),
                    shared_mem_bytes: 0,
                };
                // SAFETY: as above; one block of ROW_BLOCK threads per block of rows.
                unsafe { b.launch(cfg) }.map_err(err("launching seed_score"))?;
            }
            let mut b = stream.launch_builder(&s.gpu.kernels.seed_totals);
            b.arg(&gains).arg(&nblocks).arg(&trials_i).arg(&mut totals);
            // SAFETY: as above; one thread per candidate.
            unsafe { b.launch(threads(trials, 32)) }.map_err(err("launching seed_totals"))?;
            stream.clone_dtoh(&totals).map_err(err("copying the gains back"))
        })
    }

    fn add(&mut self, pick: usize) -> Result<Vec<f64>> {
        let row = self.candidates[pick];
        self.advance(row)
    }

    fn advance(&mut self, row: usize) -> Result<Vec<f64>> {
        self.on_device("a seeding step failed on the device", |s| s.measure(row, true))
    }

    fn block(&mut self, b: usize) -> Result<Vec<f64>> {
        self.on_device("copying distances failed", |s| {
            let rows = b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(s.n);
            s.gpu.stream.clone_dtoh(&s.d2.slice(rows)).map_err(err("copying distances back"))
        })
    }
}
