"""Faults: a full disk while storing an upload or a model, atomic writes, the sweep of temporary
uploads at start, and a gunicorn worker killed in the middle of an upload.

A full disk is simulated by making one write function raise OSError(ENOSPC): the answer is 507
with a message, the partial files are removed, the database is unchanged and the app still works.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live_server import ROOT, free_port, wait_until_up
from tests.security.conftest import (
    CSV_SMALL,
    World,
    build_app,
    count,
    fresh_dataset,
    train_in_process,
    upload,
)


def disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _state(world: World):
    from app.models import Dataset, DatasetVersion, TrainedModel

    return (world.count(Dataset), world.count(DatasetVersion), world.count(TrainedModel), world.stored_files())


def _assert_refused_cleanly(world: World, r, before) -> None:
    assert r.status_code == 507, (r.status_code, r.text[:300])
    assert "out of storage space" in r.json["message"]
    assert _state(world) == before  # no row, no file, no temporary upload
    assert world.app.test_client().get("/api/v1/datasets", headers=world.api("owner")).status_code == 200
    count("faults injected")


def test_disk_full_while_writing_the_parquet(world: World, monkeypatch):
    import app.ml.ingest.pipeline as pipeline

    before = _state(world)
    monkeypatch.setattr(pipeline.pq, "write_table", disk_full)
    r = upload(world.app.test_client(), world.api("owner"), CSV_SMALL, "full.csv")
    _assert_refused_cleanly(world, r, before)
    monkeypatch.undo()
    assert upload(world.app.test_client(), world.api("owner"), CSV_SMALL, "after.csv").status_code == 201


def test_disk_full_while_writing_the_profile(world: World, monkeypatch):
    import app.blueprints.datasets.service as service

    before = _state(world)
    monkeypatch.setattr(service.json, "dump", disk_full)
    r = upload(world.app.test_client(), world.api("owner"), CSV_SMALL, "full.csv")
    _assert_refused_cleanly(world, r, before)


def test_disk_full_while_receiving_the_upload(world: World, monkeypatch):
    """The multipart body is streamed to DATA_DIR/uploads: the disk fills up half way."""
    from app.storage import UploadRequest

    original = UploadRequest._get_file_stream

    class FillsUp:
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, data):
            if self.written + len(data) > 1000:
                disk_full()
            self.written += self.handle.write(data)
            return len(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

    def stream(self, *args, **kwargs):
        return FillsUp(original(self, *args, **kwargs))

    before = _state(world)
    monkeypatch.setattr(UploadRequest, "_get_file_stream", stream)
    r = upload(world.app.test_client(), world.api("owner"), CSV_SMALL * 200, "full.csv")
    _assert_refused_cleanly(world, r, before)


def test_disk_full_while_exporting(world: World, monkeypatch):
    import app.ml.export as export

    before = _state(world)
    monkeypatch.setattr(export, "export_csv", disk_full)
    r = world.app.test_client().get(f"/api/v1/datasets/{world.dataset_id}/download?format=csv",
                                    headers=world.api("owner"))
    _assert_refused_cleanly(world, r, before)


def test_disk_full_while_saving_a_model(world: World, monkeypatch):
    """The training job ends failed with the message; no model row is kept."""
    import mlflow.sklearn

    from app.jobs.runner import user_message
    from app.ml.errors import ServiceError
    from app.models import TrainedModel
    from tests.functional.test_training_api import PENGUINS

    r = upload(world.app.test_client(), world.api("owner"), PENGUINS, "penguins.csv")
    dataset_id = r.json["id"]
    models = world.count(TrainedModel)
    monkeypatch.setattr(mlflow.sklearn, "log_model", disk_full)
    with pytest.raises(ServiceError) as refused:
        train_in_process(world.app, dataset_id, seed=7)
    assert refused.value.status == 507
    assert "out of storage space" in user_message(refused.value)
    assert world.count(TrainedModel) == models
    count("faults injected")


# --- atomic writes ---------------------------------------------------------------------------

def test_writes_go_through_a_temporary_file_in_the_same_folder(world: World, monkeypatch):
    """Every stored file appears by os.replace of a temporary file beside it (after fsync)."""
    import app.blueprints.datasets.service as service
    import app.ml.ingest.pipeline as pipeline

    replaced, synced = [], []
    real_replace, real_fsync = os.replace, os.fsync

    def spy_replace(src, dst):
        replaced.append((Path(src), Path(dst)))
        return real_replace(src, dst)

    def spy_fsync(fd):
        synced.append(fd)
        return real_fsync(fd)

    for module in (os, service.os, pipeline.os):
        monkeypatch.setattr(module, "replace", spy_replace)
        monkeypatch.setattr(module, "fsync", spy_fsync)
    before = set(world.stored_files())
    dataset_id = fresh_dataset(world)
    r = world.app.test_client().post(f"/api/v1/datasets/{dataset_id}/operations", headers=world.api("owner"),
                                     json={"op": "drop_columns", "params": {"columns": ["b"]}})
    assert r.status_code == 201, r.json
    new = {Path(world.app.config["DATA_DIR"]) / name for name in set(world.stored_files()) - before}
    targets = {dst for _, dst in replaced}
    for path in new:
        if path.name == "source.upload":
            continue  # the upload itself, moved from DATA_DIR/uploads by a rename
        assert path in targets, f"{path.name} was written in place"
    assert all(src.parent == dst.parent or src.parent.name == "uploads" for src, dst in replaced)
    assert synced
    assert not [p for p in Path(world.app.config["DATA_DIR"]).rglob("*") if p.suffix in (".tmp", ".part")]


def test_a_failed_write_leaves_neither_the_file_nor_its_temporary(tmp_path, monkeypatch):
    import app.ml.ingest.pipeline as pipeline

    source = tmp_path / "in.csv"
    source.write_bytes(CSV_SMALL)
    monkeypatch.setattr(pipeline.pq, "write_table", disk_full)
    with pytest.raises(OSError):
        pipeline.ingest_file(source, tmp_path / "v1.parquet", max_bytes=10**6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    count("faults injected")


# --- temporary uploads swept at start ------------------------------------------------------

def test_stale_temporary_uploads_are_swept_at_start(template_instance, mlflow_template, postgres_url, tmp_path):
    from tests.security.conftest import copy_instance

    instance = copy_instance(template_instance, mlflow_template, tmp_path / "instance")
    uploads = instance / "data" / "uploads"
    uploads.mkdir(parents=True)
    stale, fresh, other = uploads / "up-stale.part", uploads / "up-fresh.part", uploads / "keep.txt"
    download = uploads / "down-0123456789abcdef.csv"
    for path in (stale, fresh, other, download):
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for path in (stale, other, download):
        os.utime(path, (two_hours_ago, two_hours_ago))
    app = build_app(instance, postgres_url)
    assert not stale.exists()  # a killed upload's leftover
    assert not download.exists()  # a download a killed worker was sending
    assert fresh.exists()  # may be an upload another worker is still reading
    assert other.exists()  # only our own temporary files
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()
    count("faults injected")


# --- a gunicorn worker killed in the middle of an upload -------------------------------------

def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


@pytest.mark.slow
def test_sigkill_of_a_worker_during_an_upload(tmp_path):
    instance = tmp_path / "instance"
    port = free_port()
    env = {**os.environ, "INSTANCE_DIR": str(instance), "HOST": "127.0.0.1", "PORT": str(port),
           "FLASK_APP": "wsgi", "RATELIMIT_ENABLED": "false", "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2",
           "OMP_NUM_THREADS": "1", "JOB_BACKEND": "local"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "app/gunicorn_conf.py", "wsgi:app"],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", server, log)
        credentials = json.dumps({"email": "kill@example.com", "password": "correct horse battery"}).encode()
        json_headers = {"Content-Type": "application/json"}
        assert _request(port, "POST", "/api/v1/auth/register", credentials, json_headers)[0] == 201
        status, body = _request(port, "POST", "/api/v1/auth/tokens",
                                json.dumps({**json.loads(credentials), "name": "kill"}).encode(), json_headers)
        assert status == 201, body
        token = json.loads(body)["token"]
        auth = {"Authorization": f"Bearer {token}"}

        # a slow upload: the headers and the first rows, then the worker is killed mid-body
        boundary = "----security-test-boundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.csv\"\r\n"
                "Content-Type: text/csv\r\n\r\n").encode() + b"a,b\n" + b"1,2\n" * 50_000
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.putrequest("POST", "/api/v1/datasets")
        conn.putheader("Authorization", auth["Authorization"])
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(head) + 10_000_000))
        conn.endheaders()
        conn.send(head)
        uploads = instance / "data" / "uploads"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(uploads.glob("up-*.part")):
            time.sleep(0.1)
        assert list(uploads.glob("up-*.part")), "the upload never reached the disk"
        workers = _children(server.pid)
        assert workers, "no gunicorn worker"
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        count("faults injected")
        conn.close()

        # the master starts a new worker; the next requests work and nothing half-stored is visible
        wait_until_up(f"http://127.0.0.1:{port}/healthz", server, log)
        status, body = _request(port, "GET", "/api/v1/datasets", headers=auth)
        assert status == 200 and json.loads(body) == []
        files = [p for p in (instance / "data").rglob("*") if p.is_file() and "uploads" not in p.parts]
        assert not [p for p in files if "datasets" in p.parts], files  # no dataset folder without its row
        boundary_body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ok.csv\"\r\n"
                         f"Content-Type: text/csv\r\n\r\n").encode() + CSV_SMALL + f"\r\n--{boundary}--\r\n".encode()
        status, body = _request(port, "POST", "/api/v1/datasets", boundary_body,
                                {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 201, body
        dataset = json.loads(body)
        status, body = _request(port, "GET", f"/api/v1/datasets/{dataset['id']}/rows", headers=auth)
        assert status == 200

        # the killed upload's temporary file is swept when a worker starts after it went stale
        leftovers = list(uploads.glob("up-*.part"))
        from app.storage import sweep_stale_uploads

        assert sweep_stale_uploads(instance / "data", older_than=-1) == len(leftovers)
        assert not list(uploads.glob("up-*.part"))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
