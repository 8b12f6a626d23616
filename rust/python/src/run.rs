//! Running core work off the GIL, on a chosen number of threads, interruptible by Ctrl-C.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use fastkmeans_core::Result as CoreResult;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::convert::to_py_err;

/// How often the waiting thread looks for a pending signal.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `work` as a job on a rayon pool of `n_threads` threads (the global pool for `None`) with
/// the GIL released. Meanwhile the calling thread (Python's main thread, where signal handlers
/// run) checks for signals every 50 ms; on Ctrl-C it sets the stop flag, which the core polls
/// once per batch or iteration, waits for the work to wind down and raises KeyboardInterrupt.
/// Running inside the pool, the core's parallel loops start their tasks cheaply.
pub fn run<T: Send>(
    py: Python<'_>,
    n_threads: Option<usize>,
    work: impl FnOnce(&AtomicBool) -> CoreResult<T> + Send,
) -> PyResult<T> {
    let stop = AtomicBool::new(false);
    match n_threads {
        Some(n) => pool(n)?.in_place_scope(|scope| spawn_and_wait(py, scope, work, &stop)),
        None => rayon::in_place_scope(|scope| spawn_and_wait(py, scope, work, &stop)),
    }
}

/// Spawns `work` on the scope's pool and waits for it on the calling thread.
fn spawn_and_wait<'s, T: Send + 's>(
    py: Python<'_>,
    scope: &rayon::Scope<'s>,
    work: impl FnOnce(&AtomicBool) -> CoreResult<T> + Send + 's,
    stop: &'s AtomicBool,
) -> PyResult<T> {
    let (done, finished) = mpsc::channel();
    scope.spawn(move |_| {
        // A panic in the core drops `done`, which the waiting loop reports.
        let _ = done.send(work(stop));
    });
    // A Mutex makes the receiver Sync, which detach() needs; only this thread ever locks it.
    wait(py, &Mutex::new(finished), stop)
}

/// The calling thread's side of [`run`]: waits for the result, polling for signals.
fn wait<T: Send>(py: Python<'_>, finished: &Mutex<mpsc::Receiver<CoreResult<T>>>, stop: &AtomicBool) -> PyResult<T> {
    let mut interrupt: Option<PyErr> = None;
    loop {
        let wait = if interrupt.is_some() { Duration::MAX } else { SIGNAL_POLL };
        match py.detach(|| finished.lock().unwrap_or_else(|e| e.into_inner()).recv_timeout(wait)) {
            Ok(result) => {
                return match interrupt {
                    Some(err) => Err(err),
                    None => result.map_err(to_py_err),
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(err) = py.check_signals() {
                    stop.store(true, Ordering::Relaxed);
                    interrupt = Some(err);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("fastkmeans worker thread panicked"));
            }
        }
    }
}

/// One cached pool per thread count, so repeated calls do not respawn threads.
fn pool(n_threads: usize) -> PyResult<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(pool) = pools.get(&n_threads) {
        return Ok(pool.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .thread_name(|i| format!("fastkmeans-{i}"))
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n_threads} threads: {e}")))?;
    let pool = Arc::new(pool);
    pools.insert(n_threads, pool.clone());
    Ok(pool)
}
