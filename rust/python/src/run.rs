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

/// Runs `work` on a rayon pool of `n_threads` threads (the global pool for `None`) with the GIL
/// released. Meanwhile the calling thread (Python's main thread, where signal handlers run)
/// checks for signals every 50 ms; on Ctrl-C it sets the stop flag, which the core polls once per
/// batch or iteration, waits for the work to wind down and raises KeyboardInterrupt.
pub fn run<T: Send>(
    py: Python<'_>,
    n_threads: Option<usize>,
    work: impl FnOnce(&AtomicBool) -> CoreResult<T> + Send,
) -> PyResult<T> {
    let pool = n_threads.map(pool).transpose()?;
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (done, finished) = mpsc::channel();
        // A Mutex makes the receiver Sync, which detach() needs; only this thread ever locks it.
        let finished = Mutex::new(finished);
        let stop = &stop;
        scope.spawn(move || {
            let result = match &pool {
                Some(pool) => pool.install(|| work(stop)),
                None => work(stop),
            };
            let _ = done.send(result);
        });
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
    })
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
