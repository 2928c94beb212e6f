"""The Monitoring page: own figures for a user, global HTTP figures for an admin, an empty state, charts."""

from __future__ import annotations

import json
import re

from tests.functional.test_metrics_api import add_rows, record_predictions


def test_anonymous_is_sent_to_login(client):
    r = client.get("/monitoring")
    assert r.status_code == 302 and "/auth/login" in r.headers["Location"]


def test_new_user_sees_the_empty_state_and_the_nav_item(client, make_user, login):
    make_user(admin=False)
    login()
    r = client.get("/monitoring")
    assert r.status_code == 200
    assert 'id="monitoring-empty"' in r.text
    assert re.search(r'<a href="/monitoring" aria-current="page">Monitoring</a>', r.text)
    assert 'id="jobs-empty"' in r.text and 'id="models-empty"' in r.text
    assert "your requests" in r.text and "all users" not in r.text


def test_user_sees_own_models_jobs_and_requests_only(app, client, make_user, login):
    ada, _ = make_user("ada@example.com", admin=False)
    bob, _ = make_user("bob@example.com", admin=False)
    (ada_model,) = add_rows(app, ada, datasets=1, jobs=("succeeded", "failed"), models=1)
    (bob_model,) = add_rows(app, bob, datasets=1, jobs=("failed",), models=1)
    record_predictions(app, ada, ada_model, [12, 14, 16], rows_per_call=2)
    record_predictions(app, bob, bob_model, [99] * 5)
    other = app.test_client()  # bob browses (anonymous) pages: not ada's requests
    for _ in range(5):
        other.get("/auth/login")

    login("ada@example.com")
    client.get("/")
    r = client.get("/monitoring")
    assert r.status_code == 200
    assert 'id="monitoring-empty"' not in r.text
    assert f'data-model-id="{ada_model}"' in r.text and f'data-model-id="{bob_model}"' not in r.text
    assert f"Algo-{bob}-" not in r.text and f"target-of-{bob}" not in r.text
    assert re.search(r'<td data-status="succeeded">1</td>', r.text)
    assert re.search(r'<td data-status="failed">1</td>', r.text)
    # ada's own requests: the login form, its post, the home page; none of the anonymous ones.
    requests = int(re.search(r'id="http-requests">([\d,]+)<', r.text).group(1).replace(",", ""))
    assert 2 <= requests <= 4
    chart = re.search(r"data-monitoring-chart='([^']+)'", r.text)
    spec = json.loads(chart.group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert spec["type"] == "traffic" and len(spec["labels"]) == 60
    assert sum(spec["series"][0]["values"]) == requests
    assert 'id="latency-chart"' in r.text
    assert "vendor/chart.umd.min.js" in r.text and "js/monitoring.js" in r.text


def test_admin_sees_every_request(app, client, make_user, login):
    make_user("root@example.com", admin=True)
    anonymous = app.test_client()
    for _ in range(4):
        anonymous.get("/auth/login")
    anonymous.get("/no-such-page")
    login("root@example.com")
    r = client.get("/monitoring")
    assert "all users" in r.text
    requests = int(re.search(r'id="http-requests">([\d,]+)<', r.text).group(1).replace(",", ""))
    assert requests >= 7  # the five anonymous ones, the login form and its post
    assert re.search(r'id="http-error-rate">[\d.]+ %', r.text)
    routes = r.text[r.text.index('id="http-routes"'):]
    assert re.search(r"<code>GET /auth/login</code></td><td>5</td>\s*<td>0.0 %</td>", routes)
    assert re.search(r"<code>GET &lt;unmatched&gt;</code></td><td>1</td>\s*<td>100.0 %</td>", routes)


def test_drift_is_loaded_lazily_per_model_when_the_drift_fragment_exists(app, client, make_user, login):
    from app.blueprints.monitoring.views import drift_url

    user, _ = make_user(admin=False)
    (model,) = add_rows(app, user, models=1)
    login()
    r = client.get("/monitoring")
    with app.test_request_context():
        url = drift_url(model)
    if url is None:
        assert 'id="drift-section"' not in r.text
    else:
        assert 'id="drift-section"' in r.text and f'hx-get="{url}"' in r.text
