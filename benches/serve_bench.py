"""The inference endpoint under load: requests/s and p50 / p99 latency, then a mixed soak (`make bench-serve`).

The load generator is wrk (Debian's ``wrk``; `make bench-serve` installs it when missing): a C
event loop that keeps every connection busy and measures latency with HdrHistogram, so it costs
the server's two cores as little as a load generator can. Each case runs a real
``fastkmeans serve`` (Starlette on uvicorn with httptools and uvloop, 2 workers, access log off)
on 127.0.0.1 and prints requests/s, rows/s, p50 and p99 for 1-row and 1,000-row CSV and JSON
requests, and the CPU wrk itself used (in cores: it shares the machine's two with the server).
Throughput cases keep every connection busy (a closed loop: p50 is then Little's law,
connections / throughput, and p99 the queue's tail at saturation). The paced cases ask the
question of the target instead, the latency at 5,000 requests/s: each of 48 connections waits
6 ms (wrk's ``delay``) between an answer and its next request, which offers some 5,000 to 6,000
requests/s; the rate reached is printed with the latencies. ``--servers uvicorn,granian``
also runs the same application on granian for the 1-row cases: the comparison behind the choice
of uvicorn. The soak (``--soak-seconds``, 60 by
default) sends a mix of good requests and bad ones (ragged rows, non-numeric cells, malformed
JSON, wrong content types and Accepts) and prints the count of 5xx answers and the servers'
resident memory every 10 s.

Targets on a 2-core machine: 5,000 one-row requests/s at p99 < 5 ms; 1,000-row requests at
1 M rows/s; the soak: zero 5xx, flat memory.

Usage: python benches/serve_bench.py [--duration S] [--soak-seconds S] [--servers uvicorn,granian] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from _serving import free_port  # noqa: E402

import fastkmeans  # noqa: E402

K, D = 8, 10
# The paced cases: 48 connections, each waiting 6 ms after an answer (plus the latency and wrk's timer
# granularity, about 1 ms): some 5,000 to 6,000 requests/s offered.
PACED_CONNECTIONS, PACED_DELAY_MS = 48, 6
LUA_REPORT = """
done = function(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("fivexx") end
  io.write(string.format("RESULT %d %f %f %f %d %d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
threads = {}
setup = function(thread) table.insert(threads, thread) end
fivexx = 0
statuses = {}
"""


def lua_script(requests, count_statuses, delay_ms=0):
    """wrk's Lua: cycle through the (content type, accept, body) requests; count 5xx answers; pace."""
    lines = ["local requests = {}"]
    if delay_ms:
        lines.append(f"delay = function() return {delay_ms} end")
    for content_type, accept, body in requests:
        headers = f'["Content-Type"] = {json.dumps(content_type)}'
        if accept:
            headers += f', ["Accept"] = {json.dumps(accept)}'
        lines.append(f"table.insert(requests, wrk.format('POST', '/invocations', {{{headers}}}, {lua_string(body)}))")
    lines.append("local i = 0\nrequest = function() i = i % #requests + 1; return requests[i] end")
    if count_statuses:
        lines.append("response = function(status, headers, body) if status >= 500 then fivexx = fivexx + 1 end end")
    return LUA_REPORT + "\n".join(lines) + "\n"


def lua_string(body):
    return "'" + "".join(f"\\{b}" for b in body) + "'"


def run_wrk(port, requests, seconds, connections, count_statuses=False, delay_ms=0):
    """Return requests/s, p50 ms, p99 ms, 5xx count, socket errors and wrk's CPU use (cores)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(requests, count_statuses, delay_ms))
    before = os.times()
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
                              f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    after = os.times()
    found = re.search(r"RESULT (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)", out)
    n, duration, p50, p99, fivexx, socket_errors = found.groups()
    wrk_cores = (after.children_user + after.children_system - before.children_user - before.children_system) / float(
        duration)
    return int(n) / float(duration), float(p50), float(p99), int(fivexx), int(socket_errors), wrk_cores


def start(server, model, port, workers=2):
    env = {**os.environ}
    if server == "uvicorn":
        argv = [sys.executable, "-m", "fastkmeans", "serve", model, "--port", str(port), "--workers", str(workers),
                "--no-access-log"]
    else:
        from fastkmeans.server import ServerConfig

        env["FASTKMEANS_SERVE_CONFIG"] = ServerConfig.from_environment(model, port=port, access_log=False).to_json()
        argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--workers", str(workers),
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "fastkmeans.server._app:create_app_from_environment"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import http.client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                time.sleep(1.0)  # the second worker
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{server} did not start")


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def rss_mb(pid):
    """Resident memory of a process and its children, MB."""
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as status:
                total += int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))
        except (OSError, AttributeError):
            pass
    return total / 1024


def bodies(rows):
    csv = "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in rows).encode()
    js = json.dumps({"instances": [{"features": [round(float(v), 6) for v in row]} for row in rows]}).encode()
    return csv, js


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per throughput case")
    parser.add_argument("--soak-seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench-serve does)")
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 10, size=(K, D))
    X = np.concatenate([rng.normal(c, 1.0, size=(1000, D)) for c in centers])
    folder = tempfile.mkdtemp()
    model = os.path.join(folder, "model.fkm")
    fastkmeans.KMeans(k=K, random_state=0).fit(X).save(model)
    one_csv, one_json = bodies(X[:1])
    many_csv, many_json = bodies(X[:1000])
    print(f"model k={K}, d={D}; wrk, 1 thread, {args.connections} connections (8 for 1,000 rows), {args.duration} s "
          f"a case; server: {args.workers} workers, access log off; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'server':8s} {'case':22s} {'req/s':>9s} {'rows/s':>11s} {'p50 ms':>8s} {'p99 ms':>8s} {'wrk CPU':>8s}")
    servers = [s for s in args.servers.split(",") if s]
    for server in servers:
        port = free_port()
        process = start(server, model, port, args.workers)
        try:
            # (name, content type, body, rows, connections, delay between an answer and the next request)
            paced = PACED_CONNECTIONS, PACED_DELAY_MS
            cases = [("1-row CSV", "text/csv", one_csv, 1, args.connections, 0),
                     ("1-row JSON", "application/json", one_json, 1, args.connections, 0)]
            if server == "uvicorn":
                cases += [("1,000-row CSV", "text/csv", many_csv, 1000, 8, 0),
                          ("1,000-row JSON", "application/json", many_json, 1000, 8, 0),
                          ("1-row CSV, paced 5k/s", "text/csv", one_csv, 1, *paced),
                          ("1-row JSON, paced 5k/s", "application/json", one_json, 1, *paced)]
            for name, content_type, body, n_rows, connections, delay_ms in cases:
                rps, p50, p99, _, errors, wrk_cores = run_wrk(port, [(content_type, None, body)], args.duration,
                                                              connections, delay_ms=delay_ms)
                print(f"{server:8s} {name:22s} {rps:9.0f} {rps * n_rows:11.0f} {p50:8.2f} {p99:8.2f} {wrk_cores:8.2f}"
                      + (f"  socket errors {errors}" if errors else ""), flush=True)
            if server == "uvicorn" and args.soak_seconds > 0:
                soak(port, process, args, one_csv, many_csv, one_json)
        finally:
            stop(process)


def soak(port, process, args, one_csv, many_csv, one_json):
    mixed = [("text/csv", None, one_csv), ("text/csv", "text/csv", many_csv), ("application/json", None, one_json),
             ("text/csv", None, b"1,2,3\n"), ("text/csv", None, b"1,x" + b",1" * (D - 2) + b"\n"),
             ("application/json", None, b'{"instances": [{"features": [1, 2'),
             ("application/jsonlines", "application/jsonlines", b'{"features": [1, NaN]}\n'),
             ("application/x-recordio-protobuf", None, b"\x0a\x23\xd7\xce\xff\xff\xff\x00garbage"),
             ("application/xml", None, b"<a/>"), ("text/csv", "image/png", one_csv)]
    print(f"soak: {args.soak_seconds} s of mixed requests ({len(mixed)} kinds, 7 of them bad), memory every 10 s:")
    memory = [rss_mb(process.pid)]
    total, fivexx = 0.0, 0
    for _ in range(max(1, args.soak_seconds // 10)):
        rps, p50, p99, bad, _, _ = run_wrk(port, mixed, 10, args.connections, count_statuses=True)
        total += rps * 10
        fivexx += bad
        memory.append(rss_mb(process.pid))
        print(f"  {rps:7.0f} req/s  p99 {p99:6.2f} ms  5xx {bad}  RSS {memory[-1]:7.1f} MB", flush=True)
    print(f"soak total: {total:.0f} requests, {fivexx} 5xx, RSS {memory[0]:.1f} -> {memory[-1]:.1f} MB "
          f"(max {max(memory):.1f}), server alive: {process.poll() is None}")


if __name__ == "__main__":
    main()
