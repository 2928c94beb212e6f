"""Embedded mode: 20 concurrent writers through gunicorn get no 'database is locked' error."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.error import HTTPError


def post(url: str, body: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except HTTPError as exc:
        return exc.code


def test_twenty_concurrent_writers(live_server):
    def writer(i: int) -> list[int]:
        creds = {"email": f"writer{i}@example.com", "password": "a long enough password"}
        statuses = [post(f"{live_server}/api/v1/auth/register", creds)]
        statuses += [post(f"{live_server}/api/v1/auth/tokens", {**creds, "name": f"t{n}"}) for n in range(1)]
        return statuses

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(writer, range(20)))
    assert all(statuses == [201, 201] for statuses in results), results
