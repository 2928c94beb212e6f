"""app/gunicorn_conf.py: the worker hook (the local job backend's forkserver boots at worker
start, and only for JOB_BACKEND=local) and the environment the workers start with."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from tests.live_server import ROOT


@pytest.fixture
def gunicorn_conf(monkeypatch, tmp_path):
    """The config module as gunicorn loads it (its environment defaults undone after the test)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MIMALLOC_ARENA_RESERVE", raising=False)
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", ROOT / "app" / "gunicorn_conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def warm_ups(monkeypatch, *backend_classes) -> list:
    """The names of the backends whose warm_up was called."""
    calls = []
    for backend_class in backend_classes:
        monkeypatch.setattr(backend_class, "warm_up", lambda self: calls.append(self.name), raising=False)
    return calls


def test_a_worker_of_the_local_backend_boots_the_forkserver(gunicorn_conf, make_config, monkeypatch):
    from app import create_app
    from app.jobs.local import LocalBackend

    calls = warm_ups(monkeypatch, LocalBackend)
    app = create_app(make_config(JOB_BACKEND="local"))
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app))
    assert calls == ["local"]


def test_a_worker_of_the_celery_backend_boots_no_forkserver(gunicorn_conf, make_config, monkeypatch):
    """Whatever the backend object offers (a warm_up included), Celery's web worker starts none."""
    from app import create_app
    from app.jobs.celery_backend import CeleryBackend
    from app.jobs.local import LocalBackend

    calls = warm_ups(monkeypatch, CeleryBackend, LocalBackend)
    app = create_app(make_config(JOB_BACKEND="celery", CELERY_BROKER_URL="memory://"))
    assert app.extensions["jobs"].name == "celery"
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app))
    assert calls == []


def test_workers_start_with_one_openmp_thread_and_no_allocator_arenas(gunicorn_conf):
    import os

    assert os.environ["OMP_NUM_THREADS"] == "1"
    # mimalloc reads it when a worker first loads pyarrow: an upload's freed segments go back
    # to the kernel instead of staying in a 1 GiB arena (peak 3.54x the file, not 3.76-3.97x)
    assert os.environ["MIMALLOC_ARENA_RESERVE"] == "0"


def test_an_operators_allocator_setting_is_kept(monkeypatch, tmp_path):
    import os

    monkeypatch.setenv("MIMALLOC_ARENA_RESERVE", "262144")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    spec = importlib.util.spec_from_file_location("gunicorn_conf_kept", ROOT / "app" / "gunicorn_conf.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert os.environ["MIMALLOC_ARENA_RESERVE"] == "262144"
