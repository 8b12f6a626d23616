"""Ctrl-C stops a long fit within a second, from a real process and a real SIGINT."""

import gc
import signal
import subprocess
import sys
import textwrap
import time

LONG_FIT = textwrap.dedent("""
    import numpy as np, sys, time
    from fastkmeans import KMeans
    X = np.random.default_rng(0).standard_normal((400_000, 16), dtype=np.float32)
    print("ready", flush=True)
    start = time.perf_counter()
    try:
        KMeans(k=400, epochs=1000, mini_batch_size=2000, random_state=0).fit(X)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
    print("finished", flush=True)
""")


def _interrupted(script: str, after: float):
    """Run `script`, send SIGINT `after` seconds past its "ready" line: (output, exit code, seconds it took to stop)."""
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(after)
        assert process.poll() is None, "the work should still be running"
        sent = time.perf_counter()
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=10)
        return out.strip(), process.returncode, time.perf_counter() - sent
    finally:
        process.kill()


def test_ctrl_c_stops_a_long_fit_within_a_second():
    out, code, elapsed = _interrupted(LONG_FIT, after=1.0)  # well inside the fit, which takes minutes
    assert out == "interrupted" and code == 3
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"


SMALL_FITS = textwrap.dedent("""
    import numpy as np, sys
    from fastkmeans import KMeans
    X = np.random.default_rng(0).standard_normal((2000, 8))
    print("ready", flush=True)
    try:
        while True:  # each fit is small enough to run on this thread itself, which cannot poll for signals
            KMeans(k=6, random_state=0).fit(X)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
""")


def test_ctrl_c_stops_a_loop_of_fits_that_run_on_the_calling_thread():
    out, code, elapsed = _interrupted(SMALL_FITS, after=1.0)
    assert out == "interrupted" and code == 3
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"


LONG_PARTIAL_FIT = textwrap.dedent("""
    import numpy as np, sys
    from fastkmeans import KMeans
    X = np.random.default_rng(0).standard_normal((2_000_000, 32), dtype=np.float32)
    model = KMeans(k=500, extra_center_factor=10, mini_batch_size=5000, random_state=0).partial_fit(X[:5000])
    before = {key: np.copy(value) for key, value in model._state.items()}
    steps = model.n_steps_
    print("ready", flush=True)
    try:
        model.partial_fit(X)  # 400 mini-batches against 5,000 centres (seconds), merged in one core call
    except KeyboardInterrupt:
        same = all(np.array_equal(model._state[key], value) for key, value in before.items())
        print("interrupted", "unchanged" if same and model.n_steps_ == steps else "changed", flush=True)
        sys.exit(3)
    print("finished", flush=True)
""")


def test_an_interrupted_partial_fit_merges_nothing():
    # partial_fit merges all of X's mini-batches in one core call; Ctrl-C in the middle of it
    # leaves the estimator's state exactly as it was.
    out, code, elapsed = _interrupted(LONG_PARTIAL_FIT, after=0.5)
    assert out == "interrupted unchanged" and code == 3
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"


def test_argument_conversion_runs_no_python_code_where_a_ctrl_c_could_be_lost():
    # Python code run inside a core call (numpy's dtype.__str__ for an error message, say) handles
    # a pending Ctrl-C there, and the KeyboardInterrupt is discarded; a loop of short calls (a
    # streamed fit, partial_fit) then misses the Ctrl-C now and then.
    import numpy as np

    from fastkmeans import _core

    calls = []

    def profile(frame, event, arg):
        if event == "call":
            calls.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    for dtype in (np.float32, np.float64):
        X, centers = np.zeros((10, 3), dtype), np.ones((2, 3), dtype)
        state = _core.minibatch_seed(X, n_centers=2, init_method="random", seed=0)["state"]
        _core.assign(X, centers)  # first calls may import numpy's helpers once
        # No garbage collection in the window: a collection runs other libraries' gc callbacks
        # (hypothesis registers one), Python code that is not the call's.
        collecting = gc.isenabled()
        gc.disable()
        sys.setprofile(profile)
        try:
            _core.assign(X, centers)
            _core.minibatch_update(X, state=state, half_life_time_size=0)
        finally:
            sys.setprofile(None)
            if collecting:
                gc.enable()
        assert calls == [], calls
