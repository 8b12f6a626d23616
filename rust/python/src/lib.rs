//! `fastkmeans._core`: the PyO3 glue between NumPy buffers and fastkmeans-core.
//!
//! Every binding extracts its inputs (borrowing C-contiguous float32/float64 arrays, no copy),
//! hands the work to [`run`], which releases the GIL and polls for Ctrl-C, and converts the
//! result. Python has already validated and converted the inputs; the core checks them again.

mod convert;
mod device;
mod io;
mod run;
mod text;

use fastkmeans_core as core;
use fastkmeans_core::{Backend, Rows};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{init_method, labels_to_py, matrix_to_py, Input, Matrix};
use crate::device::Device;
use crate::run::{run, Work};

/// Nearest centre and squared distance of every row of `x`.
#[pyfunction]
#[pyo3(signature = (x, centers, n_threads=None, device=None))]
fn assign<'py>(
    py: Python<'py>,
    x: Input<'py>,
    centers: Matrix<'py>,
    n_threads: Option<usize>,
    device: Option<(usize, bool)>,
) -> PyResult<Bound<'py, PyAny>> {
    let device = Device::open(device)?;
    dispatch_rows_pair!(x, centers, |x, centers| {
        x.require_d(centers.d()).map_err(convert::to_py_err)?;
        let work = |_: &_| {
            let mut labels = vec![0u32; x.n()];
            let mut dist2 = vec![0f64; x.n()];
            on_device!(&device, |backend| backend.assign(x.data(), centers, &mut labels, &mut dist2))?;
            Ok((labels, dist2))
        };
        let (labels, dist2) = run(py, n_threads, Work::Unstoppable(Work::product(x.n(), centers.n(), x.d())), work)?;
        Ok((labels_to_py(py, labels), dist2.into_pyarray(py)).into_pyobject(py)?.into_any())
    })
}

/// The Euclidean distance from every row of `x` to every centre (n × k, the dtype of `x`).
#[pyfunction]
#[pyo3(signature = (x, centers, n_threads=None, device=None))]
fn transform<'py>(
    py: Python<'py>,
    x: Input<'py>,
    centers: Matrix<'py>,
    n_threads: Option<usize>,
    device: Option<(usize, bool)>,
) -> PyResult<Bound<'py, PyAny>> {
    let device = Device::open(device)?;
    dispatch_rows_pair!(x, centers, |x, centers| {
        x.require_d(centers.d()).map_err(convert::to_py_err)?;
        let out = run(py, n_threads, Work::Unstoppable(Work::product(x.n(), centers.n(), x.d())), |_| {
            let mut out = vec![Default::default(); x.n() * centers.n()];
            on_device!(&device, |backend| backend.distances(x.data(), centers, &mut out))?;
            Ok(out)
        })?;
        Ok(matrix_to_py(py, out, centers.n())?.into_any())
    })
}

/// [`assign`], plus the per-cluster sums of the next Lloyd M step (`deltas` = Σ (x − c) relative
/// to each centre, `weights`, `members`): one partition's share of a distributed Lloyd iteration.
#[pyfunction]
#[pyo3(signature = (x, centers, n_threads=None, device=None))]
fn assign_and_sum<'py>(
    py: Python<'py>,
    x: Input<'py>,
    centers: Matrix<'py>,
    n_threads: Option<usize>,
    device: Option<(usize, bool)>,
) -> PyResult<Bound<'py, PyDict>> {
    let device = Device::open(device)?;
    dispatch_rows_pair!(x, centers, |x, centers| {
        x.require_d(centers.d()).map_err(convert::to_py_err)?;
        let (labels, dist2, sums) =
            run(py, n_threads, Work::Unstoppable(Work::product(x.n(), centers.n(), x.d())), |_| {
                let mut labels = vec![0u32; x.n()];
                let mut dist2 = vec![0f64; x.n()];
                let sums = on_device!(&device, |backend| backend.assign_and_sum(
                    x.data(),
                    None,
                    centers,
                    &mut labels,
                    &mut dist2
                ))?;
                Ok((labels, dist2, sums))
            })?;
        let out = PyDict::new(py);
        out.set_item("labels", labels_to_py(py, labels))?;
        out.set_item("dist2", dist2.into_pyarray(py))?;
        out.set_item("deltas", matrix_to_py(py, sums.deltas, centers.d())?)?;
        out.set_item("weights", sums.weights.into_pyarray(py))?;
        out.set_item("members", sums.members.into_pyarray(py))?;
        Ok(out)
    })
}

/// The index of the first row of `x` holding NaN or infinity, or None.
#[pyfunction]
fn first_non_finite_row(py: Python<'_>, x: Input<'_>) -> PyResult<Option<usize>> {
    dispatch_rows!(x, |x| run(py, None, Work::Unstoppable(Work::product(x.n(), x.d(), 1)), |_| Ok(
        x.first_non_finite_row()
    )))
}

/// In-memory web-scale training: seed, `epochs` shuffled passes (unshuffled where one batch holds
/// every row), reduce K to k, label; with
/// `refine=(max_iter, tol)`, the reduction's trial is chosen by the rows (on tiny data, each trial
/// is refined, with restarts seeded on the rows to make up five, and the lowest end wins) and
/// full-data Lloyd from it labels the data instead (`core::reduce_and_refine`), stopping by
/// `refine_rule` ("loss" or "shift", see `stop_rule`).
/// (`reseed_ratio`'s default is written out, 0.25 = `core::DEFAULT_RESEED_RATIO`, so that Python
/// sees it in the signature; tests/test_recipe.py checks it against the estimator's default.)
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (x, *, k, n_centers, mini_batch_size, epochs, init_method, half_life_time_size,
    local_lloyd_init_method, local_lloyd_num_trials, local_lloyd_max_iter, local_lloyd_tol, seed,
    reseed_ratio=0.25, refine=None, refine_rule="loss", n_threads=None, device=None))]
fn fit_minibatch<'py>(
    py: Python<'py>,
    x: Input<'py>,
    k: usize,
    n_centers: usize,
    mini_batch_size: usize,
    epochs: usize,
    init_method: &str,
    half_life_time_size: u64,
    local_lloyd_init_method: &str,
    local_lloyd_num_trials: usize,
    local_lloyd_max_iter: usize,
    local_lloyd_tol: f64,
    seed: u64,
    reseed_ratio: f64,
    refine: Option<(usize, f64)>,
    refine_rule: &str,
    n_threads: Option<usize>,
    device: Option<(usize, bool)>,
) -> PyResult<Bound<'py, PyDict>> {
    let device = Device::open(device)?;
    let reduce =
        reduce_params(k, local_lloyd_init_method, local_lloyd_num_trials, local_lloyd_max_iter, local_lloyd_tol, seed)?;
    let params = core::MiniBatchParams {
        n_centers,
        mini_batch_size,
        epochs,
        half_life_time_size,
        reseed_ratio,
        reduce,
        init: convert::seeding_method(init_method, k)?,
        refine: refine.map(|steps| refine_params(steps, refine_rule)).transpose()?,
    }
    .check()
    .map_err(convert::to_py_err)?;
    dispatch_rows!(x, |x| {
        // The epochs against K centres, and the refine's iterations (counted as if against K too).
        let passes = epochs.saturating_add(refine.map_or(1, |(max_iter, _)| Work::lloyd_passes(1, max_iter)));
        let cost = Work::passes(Work::product(x.n(), x.d(), n_centers + k), passes);
        let fit = run(py, n_threads, cost, |stop| {
            on_device!(&device, |backend| core::fit_minibatch(x, &params, backend, stop))
        })?;
        let out = PyDict::new(py);
        out.set_item("centers", matrix_to_py(py, fit.centers, x.d())?)?;
        out.set_item("labels", labels_to_py(py, fit.labels))?;
        out.set_item("inertia", fit.inertia)?;
        out.set_item("n_iter", fit.reduced.n_iter)?;
        out.set_item("reduction_msd", fit.reduced.msd)?;
        out.set_item("n_batches", fit.n_batches)?;
        out.set_item("weights", PyArray1::from_vec(py, fit.weights))?;
        set_state(&out, fit.state)?;
        Ok(out)
    })
}

/// Best of `local_lloyd_num_trials` full-batch (optionally weighted) Lloyd runs, or one run from
/// `init_centers` when given; each stops by `stop_rule`: "loss" (SageMaker's `local_lloyd_tol`)
/// or "shift" (scikit-learn's centre shift, `core::StopRule::CenterShift`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (x, *, k, init_method, num_trials, max_iter, tol, seed, weights=None, init_centers=None,
    stop_rule="loss", n_threads=None, device=None))]
fn fit_lloyd<'py>(
    py: Python<'py>,
    x: Input<'py>,
    k: usize,
    init_method: &str,
    num_trials: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    init_centers: Option<Matrix<'py>>,
    stop_rule: &str,
    n_threads: Option<usize>,
    device: Option<(usize, bool)>,
) -> PyResult<Bound<'py, PyDict>> {
    let device = Device::open(device)?;
    let mut params = reduce_params(k, init_method, num_trials, max_iter, tol, seed)?;
    params.lloyd.rule = self::stop_rule(stop_rule)?;
    let params = params.check().map_err(convert::to_py_err)?;
    let weights = weights.as_ref().map(|w| w.as_slice()).transpose()?;
    match &init_centers {
        None => dispatch_rows!(x, |x| {
            let cost = Work::passes(Work::product(x.n(), x.d(), k), Work::lloyd_passes(num_trials, max_iter));
            let fit = run(py, n_threads, cost, |stop| {
                on_device!(&device, |backend| core::fit_lloyd(x, weights, &params, backend, stop))
            })?;
            lloyd_to_py(py, fit, x.d())
        }),
        Some(init) => dispatch_rows_pair!(x, init, |x, init| {
            x.require_d(init.d()).map_err(convert::to_py_err)?;
            core::kernels::metrics::check_weights(x.n(), weights).map_err(convert::to_py_err)?;
            let lloyd = params.lloyd.check().map_err(convert::to_py_err)?;
            let cost = Work::passes(Work::product(x.n(), x.d(), init.n()), Work::lloyd_passes(1, max_iter));
            let fit = run(py, n_threads, cost, |stop| {
                on_device!(&device, |backend| core::lloyd(x, weights, init.as_slice().to_vec(), &lloyd, backend, stop))
            })?;
            lloyd_to_py(py, fit, x.d())
        }),
    }
}

fn lloyd_to_py<F: core::Scalar + numpy::Element>(
    py: Python<'_>,
    fit: core::LloydFit<F>,
    d: usize,
) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("centers", matrix_to_py(py, fit.centers, d)?)?;
    out.set_item("labels", labels_to_py(py, fit.labels))?;
    out.set_item("inertia", fit.loss)?;
    out.set_item("n_iter", fit.n_iter)?;
    Ok(out)
}

/// k-means‖'s last step over candidates gathered from shards (Dask partitions): weighted greedy
/// k-means++ among them, then weighted Lloyd (`core::algo::kmeans_parallel::reduce_candidates`),
/// drawing from trial 0's stream of `seed`. Returns the k centres (the candidates themselves when
/// there are k or fewer).
#[pyfunction]
#[pyo3(signature = (candidates, weights, *, k, seed, n_threads=None))]
fn reduce_candidates<'py>(
    py: Python<'py>,
    candidates: Matrix<'py>,
    weights: PyReadonlyArray1<'py, f64>,
    k: usize,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    if k == 0 {
        return Err(PyValueError::new_err("k must be at least 1"));
    }
    let weights = weights.as_slice()?;
    dispatch!(candidates, |candidates| {
        core::kernels::metrics::check_weights(candidates.n(), Some(weights)).map_err(convert::to_py_err)?;
        let cost = Work::Unstoppable(Work::product(candidates.n(), candidates.d(), k));
        let centers = run(py, n_threads, cost, |_| {
            let mut rng = core::rng::Rng::new(seed, core::rng::Purpose::Trial(0));
            core::algo::kmeans_parallel::reduce_candidates(candidates, weights, k, &mut rng, &core::Cpu)
        })?;
        Ok(matrix_to_py(py, centers, candidates.d())?.into_any())
    })
}

/// Seeds `n_centers` streaming centres from `sample` (the first batch) with `init_method`.
#[pyfunction]
#[pyo3(signature = (sample, *, n_centers, init_method, seed, k=None, n_threads=None))]
fn minibatch_seed<'py>(
    py: Python<'py>,
    sample: Input<'py>,
    n_centers: usize,
    init_method: &str,
    seed: u64,
    k: Option<usize>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let init = convert::seeding_method(init_method, k.unwrap_or(n_centers))?;
    dispatch_rows!(sample, |sample| {
        let cost = Work::Unstoppable(Work::product(sample.n(), sample.d(), n_centers));
        let state = run(py, n_threads, cost, |_| core::MiniBatchState::seed(sample, n_centers, init, seed))?;
        let out = PyDict::new(py);
        set_state(&out, state)?;
        Ok(out)
    })
}

/// Merges rows into a saved streaming state: as one mini-batch, or in mini-batches of
/// `mini_batch_size` rows (taken in `order` when given), the whole loop in the core. Returns the
/// new state, the summed batch ssd (each against the centres before its merge) and the number of
/// batches.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (batch, *, state, half_life_time_size, mini_batch_size=None, order=None, shuffle_seed=None,
    reseed_ratio=0.25, n_threads=None))]
fn minibatch_update<'py>(
    py: Python<'py>,
    batch: Input<'py>,
    state: &Bound<'py, PyDict>,
    half_life_time_size: u64,
    mini_batch_size: Option<usize>,
    order: Option<PyReadonlyArray1<'py, i64>>,
    shuffle_seed: Option<u64>,
    reseed_ratio: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let centers: Matrix<'py> = required(state, "centers")?;
    let order: Option<Vec<usize>> = match (&order, shuffle_seed) {
        (Some(_), Some(_)) => {
            return Err(pyo3::exceptions::PyValueError::new_err("pass order or shuffle_seed, not both"));
        }
        (None, _) => None,
        (Some(o), None) => Some(
            o.as_array()
                .iter()
                .map(|&i| usize::try_from(i))
                .collect::<Result<_, _>>()
                .map_err(|_| pyo3::exceptions::PyValueError::new_err("order holds a negative row index"))?,
        ),
    };
    dispatch_rows_pair!(batch, centers, |batch, centers| {
        let mut state = get_state(state, centers)?.with_reseed_ratio(reseed_ratio).map_err(convert::to_py_err)?;
        let rows = order.as_ref().map_or(batch.n(), Vec::len);
        // None: everything given (all of `order`, or every row) as one mini-batch.
        let size = mini_batch_size.unwrap_or(rows.max(1));
        let cost = Work::Stoppable(Work::product(rows, batch.d(), state.n_centers()));
        let merged = run(py, n_threads, cost, |stop| match shuffle_seed {
            // The order of the first epoch of an in-memory fit with this seed (one of more than one
            // batch an epoch; a fit whose one batch holds every row takes them in their order).
            Some(seed) => state.update_epoch(batch, seed, 0, size, half_life_time_size, &core::Cpu, stop),
            None => state.update_batches(batch, order.as_deref(), size, half_life_time_size, &core::Cpu, stop),
        })?;
        let out = PyDict::new(py);
        out.set_item("batch_ssd", merged.ssd)?;
        out.set_item("n_batches", merged.n_batches)?;
        set_state(&out, state)?;
        Ok(out)
    })
}

/// Shrinks a streaming state (its K centres weighted by their counts, and its far points) to
/// `k` centres by weighted Lloyd trials.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (state, *, k, init_method, num_trials, max_iter, tol, seed, n_threads=None))]
fn reduce<'py>(
    py: Python<'py>,
    state: &Bound<'py, PyDict>,
    k: usize,
    init_method: &str,
    num_trials: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let params = reduce_params(k, init_method, num_trials, max_iter, tol, seed)?.check().map_err(convert::to_py_err)?;
    let centers: Matrix<'py> = required(state, "centers")?;
    dispatch!(centers, |centers| {
        let state = get_state(state, centers)?;
        let cost = Work::passes(Work::product(state.n_centers(), state.d, k), Work::lloyd_passes(num_trials, max_iter));
        let reduced = run(py, n_threads, cost, |stop| state.reduce(&params, &core::Cpu, stop))?;
        reduced_to_py(py, reduced, state.d)
    })
}

/// The weight of each of `centers` (k × d, the state's dtype): the total count of the state's
/// streaming centres nearest to it (`core::MiniBatchState::absorbed_counts`).
#[pyfunction]
fn absorbed_counts<'py>(
    py: Python<'py>,
    state: &Bound<'py, PyDict>,
    centers: Matrix<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let streaming: Matrix<'py> = required(state, "centers")?;
    dispatch_pair!(streaming, centers, |streaming, centers| {
        streaming.require_d(centers.d()).map_err(convert::to_py_err)?;
        let state = get_state(state, streaming)?;
        let cost = Work::Unstoppable(Work::product(state.n_centers(), state.d, centers.n()));
        let weights = run(py, None, cost, |_| state.absorbed_counts(centers.as_slice()))?;
        Ok(PyArray1::from_vec(py, weights))
    })
}

/// The end of an in-memory fit from a streaming state (`core::reduce_and_refine`): reduces it to
/// `k` centres (until its trials agree), chooses the trial by the rows `x`, and runs full-data
/// Lloyd from it by `refine=(max_iter, tol)`, stopping by `refine_rule` (see `stop_rule`); on
/// tiny data it refines every distinct trial (with restarts seeded on the rows to make up five)
/// and keeps the lowest end.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (x, *, state, k, init_method, num_trials, max_iter, tol, seed, refine, refine_rule="loss",
    n_threads=None, device=None))]
fn reduce_and_refine<'py>(
    py: Python<'py>,
    x: Input<'py>,
    state: &Bound<'py, PyDict>,
    k: usize,
    init_method: &str,
    num_trials: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    refine: (usize, f64),
    refine_rule: &str,
    n_threads: Option<usize>,
    device: Option<(usize, bool)>,
) -> PyResult<Bound<'py, PyDict>> {
    let device = Device::open(device)?;
    let reduce = reduce_params(k, init_method, num_trials, max_iter, tol, seed)?.check().map_err(convert::to_py_err)?;
    let refine = refine_params(refine, refine_rule)?.check().map_err(convert::to_py_err)?;
    let centers: Matrix<'py> = required(state, "centers")?;
    dispatch_rows_pair!(x, centers, |x, centers| {
        let state = get_state(state, centers)?;
        // The reduction's trials over K centres, then the refine's iterations over the rows.
        let trials =
            Work::product(state.n_centers(), x.d(), k).saturating_mul(Work::lloyd_passes(num_trials, max_iter));
        let cost = Work::Stoppable(
            Work::product(x.n(), x.d(), k)
                .saturating_mul(Work::lloyd_passes(1, refine.max_iter))
                .saturating_add(trials),
        );
        let (reduced, fit) = run(py, n_threads, cost, |stop| {
            on_device!(&device, |backend| core::reduce_and_refine(x, &state, &reduce, &refine, backend, stop))
        })?;
        let out = lloyd_to_py(py, fit, x.d())?;
        out.set_item("n_iter", reduced.n_iter)?;
        out.set_item("reduction_msd", reduced.msd)?;
        Ok(out)
    })
}

/// The refine's Lloyd parameters from `refine=(max_iter, tol)` and `refine_rule`.
fn refine_params((max_iter, tol): (usize, f64), refine_rule: &str) -> PyResult<core::LloydParams> {
    Ok(core::LloydParams { max_iter, tol, rule: stop_rule(refine_rule)? })
}

/// Shrinks the weighted centres of several shards (each a `centers` matrix with one weight per
/// row, all of one dtype) to `k` centres by weighted Lloyd trials, the shards taken in order.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (centers, weights, *, k, init_method, num_trials, max_iter, tol, seed, n_threads=None))]
fn reduce_shards<'py>(
    py: Python<'py>,
    centers: Vec<Matrix<'py>>,
    weights: Vec<PyReadonlyArray1<'py, f64>>,
    k: usize,
    init_method: &str,
    num_trials: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    if centers.len() != weights.len() {
        return Err(PyValueError::new_err(format!(
            "{} centre arrays but {} weight arrays",
            centers.len(),
            weights.len()
        )));
    }
    let params = reduce_params(k, init_method, num_trials, max_iter, tol, seed)?.check().map_err(convert::to_py_err)?;
    let weights = weights.iter().map(|w| w.as_slice()).collect::<Result<Vec<_>, _>>()?;
    macro_rules! shards {
        ($variant:ident) => {{
            let mut shards = Vec::with_capacity(centers.len());
            for (matrix, &w) in centers.iter().zip(&weights) {
                let Matrix::$variant(a) = matrix else {
                    return Err(PyValueError::new_err("every shard's centres must share one dtype"));
                };
                shards.push(core::Shard { centers: convert::points(a)?, weights: w });
            }
            let (rows, d) = (shards.iter().map(|s| s.centers.n()).sum(), shards.first().map_or(0, |s| s.centers.d()));
            let cost = Work::passes(Work::product(rows, d, k), Work::lloyd_passes(num_trials, max_iter));
            let reduced = run(py, n_threads, cost, |stop| core::reduce_shards(&shards, &params, &core::Cpu, stop))?;
            reduced_to_py(py, reduced, d)
        }};
    }
    match centers.first() {
        Some(Matrix::F32(_)) => shards!(F32),
        _ => shards!(F64),
    }
}

/// A reduction as the dict both `reduce` and `reduce_shards` return: `centers` (k × d), `ssd`,
/// `msd`, `n_iter`.
fn reduced_to_py<F: core::Scalar + numpy::Element>(
    py: Python<'_>,
    reduced: core::Reduced<F>,
    d: usize,
) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("centers", matrix_to_py(py, reduced.centers, d)?)?;
    out.set_item("ssd", reduced.ssd)?;
    out.set_item("msd", reduced.msd)?;
    out.set_item("n_iter", reduced.n_iter)?;
    Ok(out)
}

/// Sum and mean of the (weighted) squared distances of rows to their closest centres.
#[pyfunction]
#[pyo3(signature = (x, centers, weights=None, n_threads=None))]
fn loss<'py>(
    py: Python<'py>,
    x: Input<'py>,
    centers: Matrix<'py>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    n_threads: Option<usize>,
) -> PyResult<(f64, f64, f64)> {
    let weights = weights.as_ref().map(|w| w.as_slice()).transpose()?;
    dispatch_rows_pair!(x, centers, |x, centers| {
        let cost = Work::Unstoppable(Work::product(x.n(), centers.n(), x.d()));
        let loss = run(py, n_threads, cost, |_| core::loss(x, weights, centers, &core::Cpu))?;
        Ok((loss.ssd, loss.msd, loss.total_weight))
    })
}

/// Silhouette values of the rows `rows` (every row when None) against all rows of `x`, on
/// `device` (float32 dense rows on a GPU; others on the CPU).
#[pyfunction]
#[pyo3(signature = (x, labels, k, rows=None, n_threads=None, device=None))]
#[allow(clippy::too_many_arguments)]
fn silhouette_samples<'py>(
    py: Python<'py>,
    x: Input<'py>,
    labels: PyReadonlyArray1<'py, i32>,
    k: usize,
    rows: Option<PyReadonlyArray1<'py, i64>>,
    n_threads: Option<usize>,
    device: Option<(usize, bool)>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let device = Device::open(device)?;
    let labels = convert::labels_from_py(&labels)?;
    let rows = rows.as_ref().map(convert::indices_from_py).transpose()?;
    let rows = rows.as_deref();
    let values = dispatch_rows!(x, |x| {
        let cost = Work::Stoppable(Work::product(x.n(), rows.map_or(x.n(), <[usize]>::len), x.d()));
        run(py, n_threads, cost, |stop| {
            on_device!(&device, |backend| backend.silhouette_samples(x.data(), &labels, k, rows, stop))
        })
    })?;
    Ok(values.into_pyarray(py))
}

/// Distances the exact silhouette of every row computes after pruning, and the pairs of rows.
#[pyfunction]
#[pyo3(signature = (x, labels, k, n_threads=None))]
fn silhouette_pairs<'py>(
    py: Python<'py>,
    x: Matrix<'py>,
    labels: PyReadonlyArray1<'py, i32>,
    k: usize,
    n_threads: Option<usize>,
) -> PyResult<(u64, u64)> {
    let labels = convert::labels_from_py(&labels)?;
    dispatch!(x, |x| run(py, n_threads, Work::Unstoppable(Work::product(x.n(), x.n(), x.d())), |_| {
        core::silhouette_pairs(x, &labels, k)
    }))
}

/// Per-cluster counts, means, Σ||x − mean||² and Σ||x − mean||, with the Calinski–Harabasz and
/// Davies–Bouldin indices computed from them, on `device` (float32 rows on a GPU; others on the
/// CPU).
#[pyfunction]
#[pyo3(signature = (x, labels, k, n_threads=None, device=None))]
fn dispersion<'py>(
    py: Python<'py>,
    x: Matrix<'py>,
    labels: PyReadonlyArray1<'py, i32>,
    k: usize,
    n_threads: Option<usize>,
    device: Option<(usize, bool)>,
) -> PyResult<Bound<'py, PyDict>> {
    let device = Device::open(device)?;
    let labels = convert::labels_from_py(&labels)?;
    let disp = dispatch!(x, |x| run(py, n_threads, Work::Unstoppable(Work::product(x.n(), x.d(), 1)), |_| {
        on_device!(&device, |backend| backend.dispersion(x, &labels, k))
    }))?;
    let out = PyDict::new(py);
    out.set_item("calinski_harabasz", core::calinski_harabasz(&disp))?;
    out.set_item("davies_bouldin", core::davies_bouldin(&disp))?;
    out.set_item("counts", PyArray1::from_vec(py, disp.counts.iter().map(|&c| c as i64).collect()))?;
    out.set_item("within_ssd", PyArray1::from_vec(py, disp.within_ssd))?;
    out.set_item("within_distance", PyArray1::from_vec(py, disp.within_distance))?;
    out.set_item("means", matrix_to_py(py, disp.means, disp.d)?)?;
    Ok(out)
}

/// An item of a state dict, with the key named in the error when it is missing.
fn required<'py, T: for<'a> FromPyObject<'a, 'py, Error = PyErr>>(
    state: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<T> {
    state
        .get_item(key)?
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("the training state has no {key:?}")))?
        .extract()
}

/// A streaming state from its dict (see `set_state`), its centres already borrowed as `centers`.
fn get_state<F: core::Scalar + numpy::Element>(
    state: &Bound<'_, PyDict>,
    centers: core::Points<'_, F>,
) -> PyResult<core::MiniBatchState<F>> {
    let counts: PyReadonlyArray1<'_, f64> = required(state, "counts")?;
    let far_points: numpy::PyReadonlyArray2<'_, F> = required(state, "far_points")?;
    let far_weights: PyReadonlyArray1<'_, f64> = required(state, "far_weights")?;
    let far_dist2: PyReadonlyArray1<'_, f64> = required(state, "far_dist2")?;
    core::MiniBatchState::from_parts(
        centers.as_slice().to_vec(),
        counts.as_slice()?.to_vec(),
        centers.d(),
        required(state, "points_seen")?,
        far_points.as_slice()?.to_vec(),
        far_weights.as_slice()?.to_vec(),
        far_dist2.as_slice()?.to_vec(),
    )
    .map_err(convert::to_py_err)
}

fn stop_rule(name: &str) -> PyResult<core::StopRule> {
    match name {
        "loss" => Ok(core::StopRule::Loss),
        "shift" => Ok(core::StopRule::CenterShift),
        other => {
            Err(pyo3::exceptions::PyValueError::new_err(format!("stop_rule must be 'loss' or 'shift', not {other:?}")))
        }
    }
}

fn reduce_params(
    k: usize,
    init: &str,
    num_trials: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
) -> PyResult<core::ReduceParams> {
    Ok(core::ReduceParams {
        k,
        init: init_method(init, k)?,
        num_trials,
        lloyd: core::LloydParams::loss_rule(max_iter, tol),
        seed,
    })
}

fn set_state<F: core::Scalar + numpy::Element>(
    out: &Bound<'_, PyDict>,
    state: core::MiniBatchState<F>,
) -> PyResult<()> {
    let py = out.py();
    let state_dict = PyDict::new(py);
    state_dict.set_item("centers", matrix_to_py(py, state.centers, state.d)?)?;
    state_dict.set_item("counts", PyArray1::from_vec(py, state.counts))?;
    state_dict.set_item("points_seen", state.points_seen)?;
    state_dict.set_item("far_points", matrix_to_py(py, state.far_points, state.d)?)?;
    state_dict.set_item("far_weights", PyArray1::from_vec(py, state.far_weights))?;
    state_dict.set_item("far_dist2", PyArray1::from_vec(py, state.far_dist2))?;
    out.set_item("state", state_dict)?;
    Ok(())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    run::claim_home_thread();
    m.add_function(wrap_pyfunction!(assign, m)?)?;
    m.add_function(wrap_pyfunction!(device::cuda_compiled, m)?)?;
    m.add_function(wrap_pyfunction!(device::cuda_probe, m)?)?;
    m.add_function(wrap_pyfunction!(device::cuda_describe, m)?)?;
    m.add_function(wrap_pyfunction!(assign_and_sum, m)?)?;
    m.add_function(wrap_pyfunction!(transform, m)?)?;
    m.add_function(wrap_pyfunction!(first_non_finite_row, m)?)?;
    m.add_function(wrap_pyfunction!(fit_minibatch, m)?)?;
    m.add_function(wrap_pyfunction!(fit_lloyd, m)?)?;
    m.add_function(wrap_pyfunction!(minibatch_seed, m)?)?;
    m.add_function(wrap_pyfunction!(minibatch_update, m)?)?;
    m.add_function(wrap_pyfunction!(reduce, m)?)?;
    m.add_function(wrap_pyfunction!(absorbed_counts, m)?)?;
    m.add_function(wrap_pyfunction!(reduce_shards, m)?)?;
    m.add_function(wrap_pyfunction!(reduce_and_refine, m)?)?;
    m.add_function(wrap_pyfunction!(reduce_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(loss, m)?)?;
    m.add_function(wrap_pyfunction!(silhouette_samples, m)?)?;
    m.add_function(wrap_pyfunction!(silhouette_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(dispersion, m)?)?;
    m.add("BACKENDS", if device::cuda_compiled() { vec!["cpu", "cuda"] } else { vec!["cpu"] })?;
    m.add("CPU_TILES", fastkmeans_core::tiles())?;
    io::register(m)?;
    text::register(m)
}
