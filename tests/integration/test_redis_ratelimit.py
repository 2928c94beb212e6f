"""Several web processes share their rate limits through Redis (RATELIMIT_STORAGE_URI=redis://...).

Two apps are built one after the other; the second one's limiter starts with a fresh
storage connection, as another web process would. With Redis it sees the first one's
hits; with memory:// (the control) it starts from zero.
"""

from __future__ import annotations

import os
import uuid

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")  # a db of its own
REQUIRED = bool(os.environ.get("CI") or os.environ.get("TEST_POSTGRES_URL") or os.environ.get("TEST_REDIS_URL"))


@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if REQUIRED:  # CI runs Redis: unreachable is a failure there
            raise
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    yield REDIS_URL
    client.close()


def token_attempt(app) -> int:
    client = app.test_client()
    r = client.post("/api/v1/auth/tokens", json={"email": "nobody@example.com", "password": "wrong password",
                                                 "name": "t"})
    return r.status_code


def two_apps(make_config, storage_uri: str):
    from app import create_app

    settings = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": storage_uri, "RATELIMIT_TOKENS": "3/hour",
                "RATELIMIT_KEY_PREFIX": f"csva-test-{uuid.uuid4().hex}"}
    first = create_app(make_config(**settings))
    yield first
    yield create_app(make_config(**settings))  # a second web process: its own storage connection


def test_two_apps_share_a_limit_through_redis(make_config, redis_url):
    apps = two_apps(make_config, redis_url)
    first = next(apps)
    assert [token_attempt(first) for _ in range(3)] == [401, 401, 401]
    second = next(apps)
    assert token_attempt(second) == 429  # the first app's three attempts count here too
    assert token_attempt(first) == 429


def test_control_memory_storage_is_per_process(make_config):
    apps = two_apps(make_config, "memory://")
    first = next(apps)
    assert [token_attempt(first) for _ in range(4)] == [401, 401, 401, 429]
    second = next(apps)
    assert token_attempt(second) == 401  # a fresh in-memory storage knows nothing of the first
