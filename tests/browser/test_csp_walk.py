"""In real Chromium, every HTML page of the app under the strict CSP: no violation, no console error.

The pages come from the app's own URL map, so a page added later is walked too: its URL arguments are
filled with the ids of objects the walking user owns (a dataset, a trained model, its training job, a
batch-scoring job); an argument the walk cannot fill fails the test and says what to add. Each page is
loaded until the network is idle (htmx lazy loads, charts), as:
- anonymous: the login and registration pages;
- the owner of the objects: every other page, then the logout page, whose button signs out;
- an admin (made by `flask create-user --admin`, on the browser tests' shared server): the admin pages
  and the lists.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from playwright.sync_api import expect

from tests.conftest import config_for
from tests.functional.test_predictions_api import ROW
from tests.functional.test_training_api import PENGUINS
from tests.live_server import flask_cli, server_env

PASSWORD = "a long enough password"
ADMIN_EMAIL = "walk-admin@example.com"
OWNER_EMAIL = "walk-owner@example.com"

# Routes that are not HTML pages, with the reason; everything else with GET is walked.
NOT_PAGES_PREFIXES = ("/api/", "/static/")  # the JSON API (Swagger UI: test_auth_journey), files
NOT_PAGES = {
    "prometheus_metrics": "Prometheus text format",
    "core.healthz": "plain-text probe",
    "core.readyz": "plain-text probe",
    "datasets.download": "a CSV file (attachment)",
    "training.export": "a zip file (attachment)",
    "prediction.batch_download": "a CSV file (attachment)",
}
ANONYMOUS_PAGES = {"auth.login", "auth.register"}  # a signed-in user is sent on from them
LOGOUT = "auth.logout"  # its GET is a confirm page; walked last, its button ends the session
ADMIN_PREFIX = "admin."  # to anyone but an admin these pages do not exist (404)

# URL argument -> which of the owner's objects fills it; per endpoint where the same name means another kind.
ARGUMENTS = {"dataset_id": "dataset", "model_id": "model", "job_id": "job"}
ENDPOINT_ARGUMENTS = {"prediction.batch_job": {"job_id": "batch_job"}}
HOW_TO_ADD = ("{rule} ({endpoint}): the CSP walk cannot fill <{argument}>. Add it to ARGUMENTS (or the "
              "endpoint to ENDPOINT_ARGUMENTS) in tests/browser/test_csp_walk.py with an object the walking "
              "user owns, or to NOT_PAGES with the reason if it is not an HTML page.")


def get_routes(tmp_path: Path) -> list[tuple[str, str, list[str]]]:
    """(endpoint, rule, arguments) of every GET route, from the same code the live server runs."""
    from app import create_app

    app = create_app(config_for(tmp_path, None))
    return sorted((rule.endpoint, rule.rule, sorted(rule.arguments)) for rule in app.url_map.iter_rules()
                  if "GET" in rule.methods)


def pages_to_walk(routes, objects: dict[str, int]) -> dict[str, list[tuple[str, str]]]:
    """Who visits which page: {"anonymous"|"owner"|"admin": [(endpoint, url)]}; fails on an unfillable id."""
    walk: dict[str, list[tuple[str, str]]] = {"anonymous": [], "owner": [], "admin": []}
    unfillable = []
    for endpoint, rule, arguments in routes:
        if rule.startswith(NOT_PAGES_PREFIXES) or endpoint in NOT_PAGES or endpoint == LOGOUT:
            continue
        url = rule
        for argument in arguments:
            kind = ENDPOINT_ARGUMENTS.get(endpoint, {}).get(argument) or ARGUMENTS.get(argument)
            if kind is None:
                unfillable.append(HOW_TO_ADD.format(rule=rule, endpoint=endpoint, argument=argument))
                continue
            url = url.replace(f"<int:{argument}>", str(objects[kind])).replace(f"<{argument}>", str(objects[kind]))
        if endpoint in ANONYMOUS_PAGES:
            walk["anonymous"].append((endpoint, url))
        elif endpoint.startswith(ADMIN_PREFIX):
            walk["admin"].append((endpoint, url))
        else:
            walk["owner"].append((endpoint, url))
            if not arguments:
                walk["admin"].append((endpoint, url))  # the lists and the nav as an admin sees them
    assert not unfillable, "\n".join(unfillable)
    return walk


# --- the owner's objects, made over the API like a client would ---------------------------------

def call(base: str, method: str, path: str, token: str | None = None, expect_status: int = 200, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.request(method, base + path, headers=headers, timeout=60, **kwargs)
    assert r.status_code == expect_status, (method, path, r.status_code, r.text[:500])
    return r.json() if r.content and r.headers.get("Content-Type", "").startswith("application/json") else r


def wait_for(base: str, path: str, token: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = call(base, "GET", path, token)
        if body["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            assert body["status"] == "succeeded", (path, body)
            return body
        time.sleep(1)


def make_objects(base: str, instance: Path) -> dict[str, int]:
    # the server is shared with the other browser tests: its first account may be anyone's
    flask_cli(server_env(instance), ["create-user", "--email", ADMIN_EMAIL, "--password", PASSWORD, "--admin"])
    call(base, "POST", "/api/v1/auth/register", json={"email": OWNER_EMAIL, "password": PASSWORD},
         expect_status=201)
    token = call(base, "POST", "/api/v1/auth/tokens", json={"email": OWNER_EMAIL, "password": PASSWORD,
                                                            "name": "walk"}, expect_status=201)["token"]
    dataset = call(base, "POST", "/api/v1/datasets", token, expect_status=201,
                   files={"file": ("penguins.csv", PENGUINS)}, data={"name": "Penguins <b>walk</b>"})
    job = call(base, "POST", "/api/v1/training-jobs", token, expect_status=202,
               json={"dataset_id": dataset["id"], "target": "species", "time_budget_s": 5, "max_candidates": 1,
                     "models": ["logistic_regression"]})
    job = wait_for(base, f"/api/v1/training-jobs/{job['id']}", token)
    model_id = job["best_model_id"]
    call(base, "POST", f"/api/v1/models/{model_id}/predict", token, json={"rows": [ROW]})
    # the dataset has more rows than BATCH_SYNC_ROWS (100 on the live server): a batch job
    batch = call(base, "POST", f"/api/v1/models/{model_id}/batch-predictions", token, expect_status=202,
                 json={"dataset_id": dataset["id"]})
    wait_for(base, f"/api/v1/batch-jobs/{batch['id']}", token)
    return {"dataset": dataset["id"], "model": model_id, "job": job["id"], "batch_job": batch["id"]}


# --- the walk -----------------------------------------------------------------------------------

def sign_in(page, email: str) -> None:
    page.goto("/auth/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path != "/auth/login", f"could not sign in as {email}"


def visit(page, who: str, endpoint: str, url: str, problems: list[str]) -> None:
    """Load `url` until the network is idle; any console error, failed request or CSP report is a problem."""
    problems_before = len(problems)
    try:
        # a generous timeout: this test is about the CSP, not speed (the admin page sizes every
        # model's artifacts through MLflow, slow on a loaded machine with the other tests' models)
        response = page.goto(url, wait_until="networkidle", timeout=60_000)
    except Exception as exc:  # a download or a navigation error: say which page
        problems.append(f"{who} {url} ({endpoint}): could not be loaded as a page: {exc}")
        return
    assert response is not None, url
    if response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
        problems.append(f"{who} {url} ({endpoint}): {response.status} {response.headers.get('content-type')}")
    if urlsplit(page.url).path == "/auth/login" and who != "anonymous":
        problems.append(f"{who} {url} ({endpoint}): sent to the login page")
    # securitypolicyviolation events the page saw (the console message is collected too)
    violations = page.evaluate("window.__cspViolations || []")
    problems.extend(f"{who} {url}: CSP violation {v}" for v in violations)
    for problem in problems[problems_before:]:
        print("PROBLEM", problem)


def test_every_page_works_under_the_csp(page, live_server, live_instance, tmp_path):
    routes = get_routes(tmp_path)
    objects = make_objects(live_server, live_instance)
    walk = pages_to_walk(routes, objects)
    problems: list[str] = []
    where = {"url": ""}
    page.add_init_script("""
        window.__cspViolations = [];
        document.addEventListener("securitypolicyviolation", function (e) {
          window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline")
                                      + " at " + (e.sourceFile || "") + ":" + (e.lineNumber || ""));
        });
    """)
    page.on("console", lambda msg: problems.append(f"{where['url']}: console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"{where['url']}: page error: {exc}"))
    page.on("requestfailed", lambda req: problems.append(f"{where['url']}: request failed: {req.url} "
                                                          f"{req.failure}"))
    page.on("response", lambda r: problems.append(f"{where['url']}: {r.status} from {r.url}")
            if r.status >= 400 else None)

    visited = []
    for who in ("anonymous", "owner", "admin"):
        if who != "anonymous":
            sign_in(page, OWNER_EMAIL if who == "owner" else ADMIN_EMAIL)
        for endpoint, url in walk[who]:
            where["url"] = f"{who} {url}"
            visit(page, who, endpoint, url, problems)
            visited.append(f"{who} {url}")
        if who != "anonymous":
            where["url"] = f"{who} /auth/logout"
            visit(page, who, LOGOUT, "/auth/logout", problems)
            page.click("main form[action='/auth/logout'] button[type=submit]")
            page.wait_for_load_state("networkidle")
            expect(page).to_have_url(f"{live_server}/auth/login")
            visited.append(f"{who} /auth/logout")

    print(f"CSP walk: {len(visited)} page loads:\n" + "\n".join(visited))
    owner_urls = {url for _, url in walk["owner"]}
    assert {"/", "/models", f"/datasets/{objects['dataset']}", f"/models/{objects['model']}",
            f"/jobs/{objects['job']}", f"/batch-jobs/{objects['batch_job']}"} <= owner_urls
    assert "/admin" in {url for _, url in walk["admin"]}
    assert not problems, f"{len(problems)} problems on {len(visited)} page loads:\n" + "\n".join(problems)
