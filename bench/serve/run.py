"""Serving speed: single-row JSON predictions against `mlflow models serve`, and a 1M-row batch.

One run, on loopback, on this machine:

1. The app served as `make run` serves it (gunicorn with app/gunicorn_conf.py,
   OMP_NUM_THREADS=1, a fresh INSTANCE_DIR in a temp dir, `flask db upgrade`,
   `flask init-tracking`, `flask create-user`), an API token, the penguins file that
   ships with the app uploaded and a histogram gradient boosting model trained through
   the API (small budget).
2. The same model exported through the API (`GET /api/v1/models/<id>/export`) and
   served by `mlflow models serve --env-manager local` with as many workers as gunicorn.
3. wrk (Debian's `wrk`; `apt-get install wrk`) at the same concurrency and keep-alive
   against both, alternating A B A B: one row per request (the app's JSON rows; MLflow's
   `dataframe_records`). Reported: throughput, client p50/p95/p99, errors, the app's
   server-side median from its Prometheus histogram `csv_analyzer_prediction_latency_seconds`
   (interpolated inside the buckets, over the measured requests only), and app/mlflow.
4. Batch: a histogram gradient boosting model of the ingest benchmark's data (the
   generator of bench/ingest, 100,000 rows to train, target `churned`), then 1,000,000
   rows of the ingest benchmark file scored end to end over HTTP: upload -> 202 batch job
   -> poll -> download of the scored CSV.

Goals (issue 5): server median < 10 ms for one row; throughput >= 2x mlflow models serve;
1M-row batch < 15 s.

Settings: BENCH_SECONDS (15, per wrk pass), BENCH_CONCURRENCY (8), BENCH_ROUNDS (2),
BENCH_BATCH_ROWS (1000000), WEB_CONCURRENCY (gunicorn's default 2, used for both servers),
BENCH_PARTS ("single,batch": which parts run; `BENCH_PARTS=batch` runs the 1M-row batch alone;
BENCH_SKIP_BATCH=1 is the same as BENCH_PARTS=single). The batch part also prints its timeline:
seconds from the start of the upload to the 202, the job running, each chunk reported, the job
done and the download done, then the batch phases the server logged (body received, read and
typed, stored; the job function's model load and end).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "bench" / ".data"
BIN = Path(sys.executable).parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
BATCH_ROWS = int(os.environ.get("BENCH_BATCH_ROWS", "1000000"))
WORKERS = int(os.environ.get("WEB_CONCURRENCY", "2"))
PARTS = {p.strip() for p in os.environ.get("BENCH_PARTS", "single,batch").split(",")}
EMAIL, PASSWORD = "bench@example.com", "benchmark password"
PENGUINS = ROOT / "app" / "sample_data" / "penguins.csv"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, what: str, tries: int = 600) -> None:
    for _ in range(tries):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class App:
    """The app as `make run` serves it, in a fresh instance directory."""

    def __init__(self, instance: Path):
        self.instance = instance
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "INSTANCE_DIR": str(instance), "PORT": str(self.port), "HOST": "127.0.0.1",
                    "FLASK_APP": "wsgi", "RATELIMIT_ENABLED": "false", "OMP_NUM_THREADS": "1",
                    "WEB_CONCURRENCY": str(WORKERS)}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.proc: subprocess.Popen | None = None
        self.headers: dict[str, str] = {}

    def flask(self, *args: str) -> None:
        subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=self.env, check=True, capture_output=True)

    def start(self) -> None:
        self.flask("db", "upgrade")
        self.flask("init-tracking")
        self.flask("create-user", "--email", EMAIL, "--password", PASSWORD)
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "app/gunicorn_conf.py", "wsgi:app"], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=open(self.instance / "server.log", "w"))  # noqa: SIM115
        wait_until_up(self.base + "/healthz", self.proc, "gunicorn")
        r = requests.post(self.base + "/api/v1/auth/tokens", json={"email": EMAIL, "password": PASSWORD,
                                                                    "name": "bench"}, timeout=30)
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}

    def api(self, method: str, path: str, **kw) -> requests.Response:
        r = requests.request(method, self.base + "/api/v1" + path, headers=self.headers, timeout=600, **kw)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r

    def upload(self, path: Path) -> dict:
        with open(path, "rb") as fh:
            return self.api("POST", "/datasets", files={"file": (path.name, fh, "text/csv")}).json()

    def train_hgb(self, dataset_id: int, target: str, budget: int) -> dict:
        job = self.api("POST", "/training-jobs", json={
            "dataset_id": dataset_id, "target": target, "models": ["hist_gradient_boosting"],
            "time_budget_s": budget, "max_candidates": 2, "seed": 0}).json()
        deadline = time.monotonic() + budget * 3 + 120
        while job["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"training job {job['id']} did not finish")
            time.sleep(1)
            job = self.api("GET", f"/training-jobs/{job['id']}").json()
        if job["status"] != "succeeded":
            raise RuntimeError(f"training job {job['id']} {job['status']}: {job.get('error')}")
        return self.api("GET", f"/models/{job['best_model_id']}").json()

    def latency_buckets(self, model_id: int) -> dict[float, float]:
        """Cumulative counts of csv_analyzer_prediction_latency_seconds for one model."""
        text = requests.get(self.base + "/metrics", timeout=30).text
        out = {}
        pattern = re.compile(r'^csv_analyzer_prediction_latency_seconds_bucket\{(.*)\} ([0-9.e+]+)$')
        for line in text.splitlines():
            m = pattern.match(line)
            if m and f'model_id="{model_id}"' in m.group(1):
                le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
                out[float("inf") if le == "+Inf" else float(le)] = float(m.group(2))
        return out


def histogram_quantile(before: dict, after: dict, q: float) -> float | None:
    """The q-quantile of the observations between two scrapes, linear inside a bucket (as PromQL)."""
    edges = sorted(after)
    counts = [after[e] - before.get(e, 0.0) for e in edges]
    total = counts[-1] if counts else 0
    if total <= 0:
        return None
    rank = q * total
    prev_edge, prev_count = 0.0, 0.0
    for edge, count in zip(edges, counts, strict=True):
        if count >= rank:
            if edge == float("inf"):
                return prev_edge
            return prev_edge + (edge - prev_edge) * (rank - prev_count) / max(count - prev_count, 1e-9)
        prev_edge, prev_count = edge, count
    return None


def mlflow_serve(model_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port), "-w", str(WORKERS)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))  # noqa: SIM115
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/ping", proc, "mlflow models serve")
    return proc, base


WRK_SCRIPT = """
local f = io.open("{body}", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKJSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, "
    .. "\\"read\\": %d, \\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, \\"p50\\": %d, "
    .. "\\"p95\\": %d, \\"p99\\": %d}}\\n", summary.requests, summary.duration, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def wrk(url: str, body: dict, headers: dict, seconds: int, work: Path, name: str,
        concurrency: int = CONCURRENCY) -> dict:
    body_path = work / f"{name}.json"
    body_path.write_text(json.dumps(body))
    auth = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    script = work / f"{name}.lua"
    script.write_text(WRK_SCRIPT.format(body=body_path, auth=auth))
    threads = min(2, concurrency)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s",
                          "--timeout", "10s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    res = json.loads(line.removeprefix("WRKJSON "))
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["errors"] = res["connect"] + res["read"] + res["write"] + res["status"] + res["timeout"]
    return res


def first_complete_row(path: Path, target: str, features: list[str]) -> dict:
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if all(row[f] not in ("", "NA") for f in features):
                out = {}
                for f in features:
                    try:
                        out[f] = float(row[f]) if "." in row[f] else int(row[f])
                    except ValueError:
                        out[f] = row[f]
                return out
    raise RuntimeError("no complete row")


def export_model(app: App, model_id: int, dest: Path) -> Path:
    r = app.api("GET", f"/models/{model_id}/export")
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        zf.extractall(dest)
    return dest


def single_row(app: App, work: Path) -> dict:
    dataset = app.upload(PENGUINS)
    model = app.train_hgb(dataset["id"], "species", budget=60)
    features = [f["name"] for f in model["features"]]
    row = first_complete_row(PENGUINS, "species", features)
    ours = app.api("POST", f"/models/{model['id']}/predict", json={"rows": [row]}).json()
    model_dir = export_model(app, model["id"], work / "exported-model")
    mlflow_proc, mlflow_base = mlflow_serve(model_dir, work / "mlflow.log")
    try:
        theirs = requests.post(mlflow_base + "/invocations", json={"dataframe_records": [row]}, timeout=60)
        theirs.raise_for_status()
        theirs = theirs.json()["predictions"]
        if [str(p) for p in theirs] != [str(p) for p in ours["predictions"]]:
            raise RuntimeError(f"the two servers disagree: {ours['predictions']} vs {theirs}")
        app_url = f"{app.base}/api/v1/models/{model['id']}/predict"
        mlflow_url = mlflow_base + "/invocations"
        # warm every worker and thread of both
        wrk(app_url, {"rows": [row]}, app.headers, 3, work, "app")
        wrk(mlflow_url, {"dataframe_records": [row]}, {}, 3, work, "mlflow")
        runs: dict[str, list[dict]] = {"app": [], "mlflow": []}
        for _ in range(ROUNDS):
            before = app.latency_buckets(model["id"])
            res = wrk(app_url, {"rows": [row]}, app.headers, SECONDS, work, "app")
            after = app.latency_buckets(model["id"])
            res["server_p50"] = histogram_quantile(before, after, 0.5)
            res["server_p95"] = histogram_quantile(before, after, 0.95)
            runs["app"].append(res)
            runs["mlflow"].append(wrk(mlflow_url, {"dataframe_records": [row]}, {}, SECONDS, work, "mlflow"))
        # unsaturated: one request at a time, the latency a lone caller sees
        before = app.latency_buckets(model["id"])
        res = wrk(app_url, {"rows": [row]}, app.headers, SECONDS, work, "app", concurrency=1)
        after = app.latency_buckets(model["id"])
        res["server_p50"] = histogram_quantile(before, after, 0.5)
        runs["app_c1"] = [res]
        runs["mlflow_c1"] = [wrk(mlflow_url, {"dataframe_records": [row]}, {}, SECONDS, work, "mlflow",
                                 concurrency=1)]
    finally:
        stop(mlflow_proc)
    return {"model": model, "row": row, "runs": runs}


def ingest_file() -> Path:
    from app.ml.ingest.generate import write_mixed_csv

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"mixed_{BATCH_ROWS}.csv"
    if not path.exists():
        write_mixed_csv(path, BATCH_ROWS, seed=0)
    return path


def batch(app: App, work: Path) -> dict:
    from app.ml.ingest.generate import write_mixed_csv
    from bench.ingest.run import MultipartFile

    train_path = work / "mixed_train_100000.csv"
    write_mixed_csv(train_path, 100_000, seed=1)
    dataset = app.upload(train_path)
    model = app.train_hgb(dataset["id"], "churned", budget=120)
    path = ingest_file()
    out = work / "scored.csv"
    timeline: list[tuple[str, float]] = []
    start = time.perf_counter()
    started_at = time.strftime("%H:%M:%S", time.gmtime())

    def mark(what: str) -> None:
        timeline.append((what, time.perf_counter() - start))

    # streamed from disk as a browser or curl sends it (requests' files= first builds the whole
    # 160 MB body in memory: 1-4 s of the client's CPU before the first byte left)
    body = MultipartFile(path)
    r = requests.post(f"{app.base}/api/v1/models/{model['id']}/batch-predictions", data=body, timeout=900,
                      headers={**app.headers, "Content-Type": body.content_type})
    if r.status_code == 202:
        mark("202 (upload read and stored)")
        job = r.json()
        seen: tuple = ()
        while job["status"] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.2)
            job = app.api("GET", f"/batch-jobs/{job['id']}").json()
            state = (job["status"], (job.get("progress") or {}).get("rows_done"))
            if state != seen:
                seen = state
                mark(f"{state[0]}, {state[1] or 0:,} rows done")
        mark(f"job {job['status']}")
        if job["status"] != "succeeded":
            raise RuntimeError(f"batch job {job['id']} {job['status']}: {job.get('error')}")
        with app.api("GET", f"/batch-jobs/{job['id']}/download", stream=True) as dl, open(out, "wb") as fh:
            for chunk in dl.iter_content(1 << 20):
                fh.write(chunk)
        mark("download done")
        path_taken = "HTTP: upload -> 202 batch job -> poll -> download"
    elif r.status_code == 200:  # at most BATCH_SYNC_ROWS rows: the CSV is the answer
        out.write_bytes(r.content)
        path_taken = "HTTP: upload -> 200 CSV (synchronous)"
    else:
        raise RuntimeError(f"batch-predictions: {r.status_code} {r.text[:500]}")
    seconds = time.perf_counter() - start
    with open(out, "rb") as fh:
        n_lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))
    return {"seconds": seconds, "rows": n_lines - 1, "path": path_taken, "model": model,
            "file_mb": path.stat().st_size / 1e6, "timeline": timeline, "phases": server_phases(app),
            "started_at": started_at}


def server_phases(app: App) -> list[str]:
    """The batch phases the server logged (upload read and stored, job function start and end)."""
    out = []
    with open(app.instance / "server.log", errors="replace") as fh:
        for line in fh:
            if any(f'"{kind}' in line for kind in ("upload: request body", "batch upload", "batch job")):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                out.append(f"{record.get('time', '')[11:23]}  {record.get('message', '')}")
    return out


def fmt_ms(us: float | None) -> str:
    return "n/a" if us is None else f"{us / 1000:.1f} ms"


def report(single: dict) -> None:
    app_runs, ml_runs = single["runs"]["app"], single["runs"]["mlflow"]
    app_rps = statistics.median(r["rps"] for r in app_runs)
    ml_rps = statistics.median(r["rps"] for r in ml_runs)
    server = [r["server_p50"] for r in app_runs if r["server_p50"] is not None]
    server_p50 = statistics.median(server) * 1e6 if server else None
    print(f"single row: model {single['model']['id']} ({single['model']['algorithm']}, penguins), "
          f"{WORKERS} workers each, wrk -c {CONCURRENCY}, {ROUNDS} x {SECONDS} s alternating, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| server | req/s | client p50 | p95 | p99 | server median | errors |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in (("CSV Analyzer (gunicorn)", app_runs), ("mlflow models serve", ml_runs),
                       ("CSV Analyzer, 1 connection", single["runs"]["app_c1"]),
                       ("mlflow models serve, 1 connection", single["runs"]["mlflow_c1"])):
        for r in runs:
            srv = fmt_ms(r["server_p50"] * 1e6) if r.get("server_p50") is not None else ""
            print(f"| {name} | {r['rps']:.0f} | {fmt_ms(r['p50'])} | {fmt_ms(r['p95'])} | {fmt_ms(r['p99'])} "
                  f"| {srv} | {r['errors']} |")
    errors = sum(r["errors"] for runs in single["runs"].values() for r in runs)
    print()
    print("| measure | result | goal |")
    print("|---|---|---|")
    c1 = single["runs"]["app_c1"][0]
    print(f"| server median, one row, {CONCURRENCY} connections | {fmt_ms(server_p50)} | < 10 ms |")
    print(f"| server median, one row, 1 connection | {fmt_ms((c1['server_p50'] or 0) * 1e6)} "
          f"(client {fmt_ms(c1['p50'])}) | < 10 ms |")
    print(f"| throughput app / mlflow (median of rounds) | {app_rps:.0f} / {ml_rps:.0f} = "
          f"**{app_rps / ml_rps:.2f}x** | >= 2x |")
    print(f"| errors | {errors} | 0 |", flush=True)


def report_batch(b: dict) -> None:
    print(f"batch: model {b['model']['id']} ({b['model']['algorithm']}), load average {os.getloadavg()[0]:.1f}")
    print(f"  upload started at {b.get('started_at')} UTC")
    for what, at in b["timeline"]:
        print(f"  {at:7.2f} s  {what}")
    for line in b.get("phases", []):
        print(f"  server: {line}")
    print(f"| batch {b['rows']:,} rows ({b['file_mb']:.0f} MB), {b['path']} | {b['seconds']:.1f} s | < 15 s |",
          flush=True)


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench/serve needs wrk: apt-get install wrk")
        return 2
    keep = os.environ.get("BENCH_WORKDIR")  # keep the instance there (for profiling), else a temp dir
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(keep or tmp)
        shutil.rmtree(work / "instance", ignore_errors=True)
        (work / "instance").mkdir(parents=True)
        app = App(work / "instance")
        try:
            app.start()
            if "single" in PARTS:
                report(single_row(app, work))
            if "batch" in PARTS and not os.environ.get("BENCH_SKIP_BATCH"):
                report_batch(batch(app, work))
        finally:
            stop(app.proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
