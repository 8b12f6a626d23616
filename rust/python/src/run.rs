//! Running core work off the GIL, on a chosen number of threads, interruptible by Ctrl-C.
//!
//! A call runs as a job on a rayon pool while the calling thread waits for it and looks for
//! signals; but on the thread that imported the module (Python's main thread, where signals are
//! handled), a call that returns soon enough runs on that thread itself, as the first worker of a
//! pool of its own (rayon's `use_current_thread`). The hop to a pool thread and back costs two
//! wake-ups, and on a virtual machine whose CPUs idle between calls each is slow: measured on
//! this project's 2-core machine (the core's `fit_minibatch` alone, median of 20 calls, each
//! after an idle pause of 0.3 s), iris 432 → 263 µs, wine 479 → 306 µs, USArrests 455 → 357 µs,
//! the 1,024 × 32 dim032 set 0.80–0.91 of the time, digits (1,797 × 64) 0.79–1.0. The kernels
//! run on as many threads, so the bits are the same. That thread cannot look for Ctrl-C while it
//! works, hence the bound on the work ([`Work`], [`INLINE_WORK`]).
//!
//! Tried and left out: keeping the pool's other workers awake for the length of a home-thread
//! call, so that its short parallel loops do not wait for a sleeping worker to wake (a job on
//! each other worker stealing with `rayon::yield_now`, a short spin between tries). In a
//! synthetic loop of joins it cut the cost of a join after a serial gap from about 40 µs to 2;
//! in whole default fits (one process, the two ways taking turns) digits at k = 30 took 0.92 of
//! the time but digits at k = 10 1.07, and the k-means++ seeding alone gained nothing (224 against
//! 223 µs on two threads, 300 on one).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use fastkmeans_core::Result as CoreResult;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::convert::to_py_err;

/// How often the waiting thread looks for a pending signal.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Multiply-adds in all up to which a call that polls the stop flag runs on the home thread,
/// which cannot look for Ctrl-C meanwhile: a fraction of a second of work at most (a Lloyd
/// refine of 300 iterations over 1,797 rows of 64 features against 60 centres is 2³¹).
const INLINE_WORK: usize = 1 << 32;

/// Multiply-adds up to which a call that never polls the stop flag runs on another thread without
/// a pool (an endpoint's request): tens of microseconds of work, which the core's parallel loops
/// run as one task, so a hop to a pool thread would cost more.
const TINY_WORK: usize = 1 << 17;

/// What a call costs at most, which decides where it runs.
#[derive(Clone, Copy, Debug)]
pub enum Work {
    /// It never polls the stop flag (Ctrl-C is answered once it returns, wherever it runs), and
    /// makes about this many multiply-adds.
    Unstoppable(usize),
    /// It polls the stop flag (once per batch or iteration), and makes at most about this many
    /// multiply-adds in all.
    Stoppable(usize),
}

impl Work {
    /// `a · b · c` multiply-adds, saturating.
    pub fn product(a: usize, b: usize, c: usize) -> usize {
        a.saturating_mul(b).saturating_mul(c)
    }

    /// A [`Work::Stoppable`] call of at most `passes` passes of `per_pass` multiply-adds.
    pub fn passes(per_pass: usize, passes: usize) -> Self {
        Self::Stoppable(per_pass.saturating_mul(passes))
    }

    /// The passes over their points that `trials` Lloyd runs of at most `max_iter` iterations
    /// make (one more than the iterations: the first assignment), saturating.
    pub fn lloyd_passes(trials: usize, max_iter: usize) -> usize {
        trials.saturating_mul(max_iter.saturating_add(1))
    }
}

/// Runs `work` with the GIL released on `n_threads` threads (the default number for `None`).
/// On the home thread (see the module docs), with the default number of threads, a
/// [`Work::Unstoppable`] call, or a [`Work::Stoppable`] one of at most [`INLINE_WORK`], runs on
/// this thread as the first worker of its pool; a Ctrl-C meanwhile raises KeyboardInterrupt when
/// it returns. Elsewhere a [`Work::Unstoppable`] call of at most [`TINY_WORK`] runs on the calling
/// thread. Other calls run as a job on a rayon pool while the calling thread checks for signals
/// every 50 ms; on Ctrl-C it sets the stop flag, which the core polls once per batch or
/// iteration, waits for the work to wind down and raises KeyboardInterrupt. Running inside a
/// pool, the core's parallel loops start their tasks cheaply.
pub fn run<T: Send>(
    py: Python<'_>,
    n_threads: Option<usize>,
    cost: Work,
    work: impl FnOnce(&AtomicBool) -> CoreResult<T> + Send,
) -> PyResult<T> {
    let stop = AtomicBool::new(false);
    let inline = match cost {
        Work::Unstoppable(_) => true,
        Work::Stoppable(total) => total <= INLINE_WORK,
    };
    let home = if inline { home_pool(n_threads) } else { None };
    if let Some(pool) = home {
        let result = py.detach(|| pool.install(|| work(&stop)));
        py.check_signals()?;
        return result.map_err(to_py_err);
    }
    if matches!(cost, Work::Unstoppable(total) if total <= TINY_WORK) {
        return py.detach(|| work(&stop)).map_err(to_py_err);
    }
    run_on_pool(py, n_threads, work, &stop)
}

/// [`run`]'s general way: `work` as a job on a pool, the calling thread waiting for it.
fn run_on_pool<T: Send>(
    py: Python<'_>,
    n_threads: Option<usize>,
    work: impl FnOnce(&AtomicBool) -> CoreResult<T> + Send,
    stop: &AtomicBool,
) -> PyResult<T> {
    // Not rayon's global pool: once the home thread is a worker of its own pool, rayon's free
    // functions there spawn into that pool, onto the home thread's own queue while it blocks
    // below: the work would run on one thread fewer.
    pool(n_threads.unwrap_or_else(default_threads))?.in_place_scope(|scope| spawn_and_wait(py, scope, work, stop))
}

/// The number of threads a call uses by default: as many as rayon's global pool would have
/// (`RAYON_NUM_THREADS` when set to a positive number, else the CPUs this process may use).
fn default_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        let set = std::env::var("RAYON_NUM_THREADS").ok().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
        set.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// The home thread: the one that imported the module, Python's main thread but for a program that
/// imports fastkmeans elsewhere first. Only it runs calls on a pool of its own.
static HOME: OnceLock<ThreadId> = OnceLock::new();

/// Makes the calling thread the one that runs calls on a pool of its own (see [`run`]); the
/// module's initialisation calls it, and later calls change nothing.
pub fn claim_home_thread() {
    HOME.get_or_init(|| std::thread::current().id());
}

fn on_home_thread() -> bool {
    HOME.get() == Some(&std::thread::current().id())
}

/// The home thread's pool, when called there with the default number of threads (`n_threads`
/// None or equal to it): the default number of threads, the first of them this thread, built at
/// the first call. A thread can be the worker of one pool only, so other numbers of threads go
/// the general way; so do other threads, so that the threads of such pools number a few however
/// many threads call fastkmeans. None where the pool cannot be built.
fn home_pool(n_threads: Option<usize>) -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let threads = default_threads();
    if !on_home_thread() || n_threads.is_some_and(|n| n != threads) {
        return None;
    }
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .use_current_thread()
            .thread_name(|i| format!("fastkmeans-home-{i}"))
            .build()
            .ok()
    })
    .as_ref()
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
