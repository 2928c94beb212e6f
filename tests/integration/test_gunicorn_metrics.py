"""/metrics under gunicorn with two workers: every worker's requests are counted, by URL rule."""

from __future__ import annotations

import re
import urllib.request
from urllib.error import HTTPError

from tests.live_server import LIVE_METRICS_TOKEN


def delete(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10) as response:
            return response.status
    except HTTPError as exc:
        return exc.code


def test_metrics_merge_workers_and_label_by_rule(live_server):
    for token_id in range(40):
        assert delete(f"{live_server}/api/v1/auth/tokens/{token_id}") == 401
    request = urllib.request.Request(f"{live_server}/metrics",
                                     headers={"Authorization": f"Bearer {LIVE_METRICS_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    counts = re.findall(
        r'flask_http_request_duration_seconds_count\{method="DELETE",status="(\d+)",url_rule="/api/v1/auth/tokens/<int:token_id>"\} (\d+\.\d+)',
        text)
    assert sum(float(n) for _, n in counts) >= 40
    assert "/api/v1/auth/tokens/7" not in text
    assert 'app_info{version="0.1.0"} 1.0' in text
