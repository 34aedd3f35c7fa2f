"""Runs quarry's HTTP benchmarks and writes docs/benchmarks.md. Called by scripts/bench.

Every figure comes from this run: wrk against the release `quarry` and the hello-world
baseline on loopback, start-up time (process start to first 200 on /health) and idle RSS.
Everything it starts, it stops; traffic goes to 127.0.0.1 only and each load is time-bounded.
"""

import argparse
import datetime
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

HOST = "127.0.0.1"

POST_LUA = """
wrk.method = "POST"
wrk.body   = '{"name": "bench session"}'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_http_200(url, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.001)
    return False


def start_quarry(binary, data_dir, port):
    env = dict(os.environ, QUARRY_LOG_LEVEL="warn", RUST_LOG="warn")
    env.pop("DATABASE_URL", None)
    return subprocess.Popen(
        [binary, "serve", "--port", str(port), "--data-dir", data_dir],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data_dir)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(url, duration, connections, script=None):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}", "--latency", "--timeout", "5s"]
    lua = None
    if script:
        lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        lua.write(script)
        lua.close()
        cmd += ["-s", lua.name]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    if lua:
        os.unlink(lua.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "non_2xx": int(errors.group(1)) if errors else 0}


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def startup_ms(binary, runs, fresh):
    samples = []
    with tempfile.TemporaryDirectory() as base:
        for i in range(runs):
            data_dir = os.path.join(base, f"d{i}" if fresh else "shared")
            os.makedirs(data_dir, exist_ok=True)
            port = free_port()
            t0 = time.monotonic()
            proc = start_quarry(binary, data_dir, port)
            ok = wait_http_200(f"http://{HOST}:{port}/health", t0 + 30)
            elapsed = (time.monotonic() - t0) * 1000
            stop(proc)
            if not ok:
                raise SystemExit("quarry did not answer /health within 30 s")
            samples.append(elapsed)
    return statistics.median(samples), min(samples), max(samples)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {mem_gib:.0f} GiB RAM, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quarry", required=True)
    ap.add_argument("--hello", required=True)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--out", default="docs/benchmarks.md")
    args = ap.parse_args()

    results = {}
    hello_port = free_port()
    hello = subprocess.Popen([args.hello, f"{HOST}:{hello_port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_http_200(f"http://{HOST}:{hello_port}/health", time.monotonic() + 30)
        wrk(f"http://{HOST}:{hello_port}/health", "2s", args.connections)  # warm-up
        results["hello"] = wrk(f"http://{HOST}:{hello_port}/health", args.duration, args.connections)
    finally:
        stop(hello)

    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        proc = start_quarry(args.quarry, data_dir, port)
        try:
            base = f"http://{HOST}:{port}"
            assert wait_http_200(base + "/health", time.monotonic() + 30)
            time.sleep(1)
            results["idle_rss_mb"] = rss_mb(proc.pid)
            for i in range(1000):
                req = urllib.request.Request(
                    base + "/sessions", data=json.dumps({"name": f"seed {i}"}).encode(),
                    headers={"Content-Type": "application/json"}, method="POST")
                with urllib.request.urlopen(req, timeout=10) as r:
                    assert r.status == 201
            with urllib.request.urlopen(base + "/sessions", timeout=10) as r:
                listing = json.load(r)
                assert listing["total"] == 1000, listing["total"]
                results["list_page_size"] = len(listing["sessions"])
            wrk(base + "/health", "2s", args.connections)  # warm-up
            results["health"] = wrk(base + "/health", args.duration, args.connections)
            results["list"] = wrk(base + "/sessions", args.duration, args.connections)
            results["create"] = wrk(base + "/sessions", args.duration, args.connections, POST_LUA)
            results["loaded_rss_mb"] = rss_mb(proc.pid)
        finally:
            stop(proc)
        # A restart on the same data dir: what a server that has run before holds at rest
        # (the first start also generates the demo database, which the allocator keeps).
        proc = start_quarry(args.quarry, data_dir, port)
        try:
            assert wait_http_200(f"http://{HOST}:{port}/health", time.monotonic() + 30)
            time.sleep(1)
            results["idle_rss_existing_mb"] = rss_mb(proc.pid)
        finally:
            stop(proc)

    results["startup_fresh"] = startup_ms(args.quarry, 10, fresh=True)
    results["startup_existing"] = startup_ms(args.quarry, 10, fresh=False)
    write_report(args, results)


def write_report(args, r):
    hello = r["hello"]["rps"]

    def row(name, key):
        x = r[key]
        return (f"| {name} | {x['rps']:,.0f} | {x['rps'] / hello:.0%} | {x['p99_ms']:.2f} | "
                f"{x['non_2xx']} |")

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sf, se = r["startup_fresh"], r["startup_existing"]
    text = f"""# Benchmarks

Measured by `just bench` (`scripts/bench`) on {now}.

Machine: {machine()}. wrk and the server share the machine's cores, so absolute figures
are lower than on a dedicated load generator; the ratios against the hello-world baseline,
measured in the same run with the same wrk settings, are what to compare.

## HTTP throughput and latency

wrk `-t1 -c{args.connections} -d{args.duration}` on loopback against the release build.
`GET /sessions` lists the newest {r['list_page_size']} of 1,000 stored sessions (SQLite, the default).
The baseline is `quarry-bench-hello`: an axum server answering `GET /health` with a fixed string.

| request | requests/s | vs hello-world | p99 (ms) | non-2xx |
|---|---:|---:|---:|---:|
| hello-world `GET /health` (baseline) | {hello:,.0f} | 100% | {r['hello']['p99_ms']:.2f} | {r['hello']['non_2xx']} |
{row('quarry `GET /health`', 'health')}
{row('quarry `GET /sessions` (1,000 stored)', 'list')}
{row('quarry `POST /sessions`', 'create')}

Target: `GET /sessions` at least 50% of the hello-world rate.

## Start-up and memory

| measure | value | target |
|---|---:|---:|
| start to first 200 on `/health`, existing data dir (median of 10; min–max) | {se[0]:.0f} ms ({se[1]:.0f}–{se[2]:.0f}) | < 200 ms |
| start to first 200 on `/health`, new data dir incl. migrations (median of 10) | {sf[0]:.0f} ms ({sf[1]:.0f}–{sf[2]:.0f}) | < 200 ms |
| idle RSS after start, existing data dir | {r['idle_rss_existing_mb']:.1f} MB | < 30 MB |
| idle RSS after the first start (new data dir, demo database generated) | {r['idle_rss_mb']:.1f} MB | |
| RSS after the load above | {r['loaded_rss_mb']:.1f} MB | |
"""
    # Sections other scripts own (scripts/bench-gateway) are kept.
    try:
        with open(args.out) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    kept = re.findall(r"<!-- ([a-z-]+):start -->.*?<!-- \1:end -->\n?", old, re.S)
    for name in kept:
        block = re.search(rf"<!-- {name}:start -->.*?<!-- {name}:end -->\n?", old, re.S)
        text = text.rstrip("\n") + "\n\n" + block.group(0)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
