"""Serving benchmark: N concurrent chat sessions against `medassist serve` on loopback.

For N in (1, 4, 16) sessions, each sends `--turns` streamed chat completions one after another
(with the growing history); we measure time to first token (first content chunk) and total
latency per request (p50/p95), errors, and the latency of `GET /healthz` polled every 50 ms
during the load (p99), which shows whether the server stays responsive while the model works.

The server is a separate `python -m assistant serve` process (as deployed), so the load
generator does not share its interpreter. One worker runs turns in order (the model is not
thread-safe and 2 CPU cores cannot run two generations usefully), so latency grows with N:
this measures queueing, not parallel throughput.

    python bench/serving.py                    # smollm2-135m, N = 1, 4, 16
    python bench/serving.py --smoke            # fake model, N = 1, 2: seconds, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make bench._common importable
    sys.path.insert(0, str(ROOT))
QUESTIONS = [
    "What are the warning signs of pneumonia?",
    "How is high blood pressure usually treated?",
    "When should a cough be checked by a doctor?",
    "What is asthma and how is it managed?",
]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(llm: str, max_new_tokens: int, port: int, max_waiting: int, log: Path) -> subprocess.Popen:
    """`medassist serve` in a subprocess; its stderr goes to `log` (a full pipe would stall it)."""
    env = os.environ | {"MEDASSIST_API_RATE_LIMIT": "0", "MEDASSIST_MAX_WAITING": str(max_waiting),
                        "MEDASSIST_API_KEYS": "", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "assistant", "serve", "--llm", llm, "--port", str(port),
           "--max-new-tokens", str(max_new_tokens)]
    with log.open("wb") as err:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 600) -> float:
    """Poll /healthz until the model is loaded; return the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit("server exited: " + log.read_text(errors="replace")[-2000:])
        try:
            status = httpx.get(url + "/healthz", timeout=2).json()
            if status["status"] == "ok":
                return time.monotonic() - t0
            if status["status"] == "error":
                raise SystemExit(f"model failed to load: {status.get('error')}")
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("server not ready in time")


async def one_request(client: httpx.AsyncClient, url: str, messages: list[dict]) -> dict[str, Any]:
    t0 = time.perf_counter()
    ttft, text, error = None, [], None
    try:
        async with client.stream("POST", url + "/v1/chat/completions",
                                 json={"model": "medassist", "stream": True, "messages": messages}) as r:
            if r.status_code != 200:
                await r.aread()
                return {"error": f"HTTP {r.status_code}", "total": time.perf_counter() - t0}
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    error = chunk["error"]["message"]
                    continue
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    ttft = ttft or time.perf_counter() - t0
                    text.append(piece)
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    return {"ttft": ttft, "total": time.perf_counter() - t0, "error": error, "answer": "".join(text)}


async def session(client: httpx.AsyncClient, url: str, index: int, turns: int) -> list[dict[str, Any]]:
    messages: list[dict] = []
    out = []
    for t in range(turns):
        messages.append({"role": "user", "content": QUESTIONS[(index + t) % len(QUESTIONS)]})
        row = await one_request(client, url, messages)
        messages.append({"role": "assistant", "content": row.get("answer") or ""})
        out.append(row)
    return out


async def poll_health(client: httpx.AsyncClient, url: str, stop: asyncio.Event) -> list[float]:
    times = []
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            (await client.get(url + "/healthz")).raise_for_status()
            times.append(time.perf_counter() - t0)
        except httpx.HTTPError:
            times.append(float("inf"))
        await asyncio.sleep(0.05)
    return times


async def run_level(url: str, n: int, turns: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=n + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        stop = asyncio.Event()
        health = asyncio.create_task(poll_health(client, url, stop))
        t0 = time.perf_counter()
        rows = [r for s in await asyncio.gather(*(session(client, url, i, turns) for i in range(n))) for r in s]
        wall = time.perf_counter() - t0
        stop.set()
        health_times = await health
    ok = [r for r in rows if not r["error"]]
    ttft = [r["ttft"] for r in ok if r["ttft"] is not None]
    total = [r["total"] for r in ok]
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {
        "sessions": n, "requests": len(rows), "errors": len(rows) - len(ok),
        "error_examples": sorted({str(r["error"]) for r in rows if r["error"]})[:3],
        "ttft_p50_ms": ms(_pct(ttft, 50)), "ttft_p95_ms": ms(_pct(ttft, 95)),
        "total_p50_ms": ms(_pct(total, 50)), "total_p95_ms": ms(_pct(total, 95)),
        "healthz_p99_ms": ms(_pct(health_times, 99)), "healthz_samples": len(health_times),
        "wall_s": round(wall, 2), "requests_per_s": round(len(rows) / wall, 3),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = ["sessions", "requests", "errors", "ttft_p50_ms", "ttft_p95_ms", "total_p50_ms", "total_p95_ms",
            "healthz_p99_ms", "requests_per_s"]
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and write bench/results/serving-<date>.json."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--llm", default=None, help="model (default smollm2-135m; fake with --smoke)")
    p.add_argument("--sessions", default=None, help="comma-separated concurrency levels (default 1,4,16)")
    p.add_argument("--turns", type=int, default=2, help="requests per session, one after another")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--smoke", action="store_true", help="fake model, N = 1, 2, one turn: seconds, for CI")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/serving-DATE.json)")
    args = p.parse_args(argv)
    llm = args.llm or ("fake" if args.smoke else "smollm2-135m")
    levels = [int(x) for x in (args.sessions or ("1,2" if args.smoke else "1,4,16")).split(",")]
    turns = 1 if args.smoke else args.turns
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    now = datetime.now(timezone.utc)
    from bench._common import results_dir

    out = args.out or results_dir() / f"serving-{now:%Y%m%d-%H%M%S}{'-smoke' if args.smoke else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "benchmark": "serving", "date": now.isoformat(timespec="seconds"), "llm": llm, "smoke": args.smoke,
        "turns_per_session": turns, "max_new_tokens": args.max_new_tokens,
        "command": "python bench/serving.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "git": _git_hash(), "rows": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        proc = start_server(llm, args.max_new_tokens, port, max(levels) * 2, log)
        try:
            result["server_ready_s"] = round(wait_ready(url, proc, log), 2)
            for n in levels:  # written after each level, so a long run keeps what it measured
                result["rows"].append(asyncio.run(run_level(url, n, turns)))
                result["machine"] = _machine()
                out.write_text(json.dumps(result, indent=2) + "\n")
        finally:
            proc.terminate()
            proc.wait(10)
    print_table(result["rows"])
    print(f"wrote {out}")
    return 0


def _machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_avg_1m": round(os.getloadavg()[0], 2), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}


def _git_hash() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


if __name__ == "__main__":
    raise SystemExit(main())
