"""The access matrix: every route that takes an object id, as its owner, as another user and anonymously.

The routes come from the app's own URL map (and the OpenAPI spec is checked against it), so a route
added later is found here. Each needs one line in MATRIX below; without it the coverage test fails
and says which line to add.

- another user gets 404, the same answer as an id that does not exist (never 403: that would say
  the object exists);
- anonymous gets 401 on the API, a redirect to the login page on HTML pages and an `HX-Redirect`
  to it (status 200, empty body) on HTMX fragments;
- the owner is let in (not 401/403/404, never 5xx), so the 404s above are not a route's answer to
  everyone. A route that changes or deletes its object is checked for the owner on a fresh object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.security.conftest import (
    SECRETS,
    World,
    count,
    fresh_dataset,
    fresh_model,
    fresh_token,
    fresh_user,
)

MISSING_ID = 987654


@dataclass(frozen=True)
class Entry:
    """How the owner's request is made. `json`/`data` are sent as they are (invalid on purpose where
    a valid one would start work or change the shared objects); `fresh` makes the owner's check on
    a new object because the route changes or deletes it."""

    json: dict | None = None
    data: dict | None = None
    fresh: bool = False
    # the body another user (and the missing id) is sent, when the owner's is invalid on purpose:
    # a valid request, so that its 404 can only come from the ownership check
    other_json: dict | None = None
    objects: dict = field(default_factory=dict)  # URL argument -> object kind, when not the default
    admin: bool = False  # an admin page: the "owner" is an admin, anyone else gets 404


# The one table: "METHOD rule" -> Entry. Add a line here for each new route that takes an object id.
MATRIX: dict[str, Entry] = {
    # datasets, HTML
    "GET /datasets/<int:dataset_id>": Entry(),
    "GET /datasets/<int:dataset_id>/clean": Entry(),
    "POST /datasets/<int:dataset_id>/clean/apply": Entry(data={"op": "no_such_operation"}),
    "POST /datasets/<int:dataset_id>/clean/preview": Entry(data={"op": "no_such_operation"}),
    "POST /datasets/<int:dataset_id>/delete": Entry(fresh=True),
    "GET /datasets/<int:dataset_id>/download": Entry(),
    "GET /datasets/<int:dataset_id>/meta": Entry(),
    "GET /datasets/<int:dataset_id>/profile": Entry(),
    "POST /datasets/<int:dataset_id>/rename": Entry(data={"name": ""}),
    "POST /datasets/<int:dataset_id>/reparse": Entry(fresh=True),
    "POST /datasets/<int:dataset_id>/rows/<int:position>/delete": Entry(fresh=True),
    "POST /datasets/<int:dataset_id>/undo": Entry(fresh=True),
    "GET /datasets/<int:dataset_id>/train": Entry(),
    "POST /datasets/<int:dataset_id>/train": Entry(data={"target": "no_such_column"}),
    "POST /datasets/<int:dataset_id>/train/preview": Entry(data={"target": "species"}),
    # jobs and models, HTML
    "GET /jobs/<int:job_id>": Entry(),
    "POST /jobs/<int:job_id>/cancel": Entry(),  # a finished job: 409 for the owner
    "POST /jobs/<int:job_id>/retry": Entry(),  # a succeeded job: 409 for the owner
    "GET /models/<int:model_id>": Entry(),
    "POST /models/<int:model_id>/delete": Entry(fresh=True),
    "GET /models/<int:model_id>/export": Entry(),
    "POST /models/<int:model_id>/predict": Entry(data={"island": "Biscoe"}),
    "POST /models/<int:model_id>/promote": Entry(),
    "POST /models/<int:model_id>/score": Entry(data={}),  # no file: refused for the owner
    # account, HTML
    "POST /account/tokens/<int:token_id>/revoke": Entry(fresh=True),
    # API
    "DELETE /api/v1/auth/tokens/<int:token_id>": Entry(fresh=True),
    "GET /api/v1/datasets/<int:dataset_id>": Entry(),
    "PATCH /api/v1/datasets/<int:dataset_id>": Entry(json={"name": ""}, other_json={"name": "taken over"}),
    "DELETE /api/v1/datasets/<int:dataset_id>": Entry(fresh=True),
    "GET /api/v1/datasets/<int:dataset_id>/download": Entry(),
    "GET /api/v1/datasets/<int:dataset_id>/operations": Entry(),
    "POST /api/v1/datasets/<int:dataset_id>/operations": Entry(json={"op": "no_such_operation", "params": {}}),
    "POST /api/v1/datasets/<int:dataset_id>/operations/preview": Entry(json={"op": "no_such_operation",
                                                                           "params": {}}),
    "GET /api/v1/datasets/<int:dataset_id>/profile": Entry(),
    "POST /api/v1/datasets/<int:dataset_id>/reparse": Entry(json={"delimiter": "not one character"},
                                                            other_json={"delimiter": ";"}),
    "GET /api/v1/datasets/<int:dataset_id>/rows": Entry(),
    "POST /api/v1/datasets/<int:dataset_id>/undo": Entry(fresh=True),
    "GET /api/v1/datasets/<int:dataset_id>/versions": Entry(),
    "GET /api/v1/models/<int:model_id>": Entry(),
    "DELETE /api/v1/models/<int:model_id>": Entry(fresh=True),
    "POST /api/v1/models/<int:model_id>/batch-predictions": Entry(data={}, other_json={"dataset_id": 1}),
    "GET /api/v1/models/<int:model_id>/export": Entry(),
    "POST /api/v1/models/<int:model_id>/predict": Entry(json={"rows": [{"island": "Biscoe"}]}),
    "POST /api/v1/models/<int:model_id>/promote": Entry(),
    "GET /api/v1/training-jobs/<int:job_id>": Entry(),
    "POST /api/v1/training-jobs/<int:job_id>/cancel": Entry(),
    "POST /api/v1/training-jobs/<int:job_id>/retry": Entry(),
    # batch scoring (#5): the job ids are those of batch-scoring jobs
    "GET /batch-jobs/<int:job_id>": Entry(objects={"job_id": "batch_job"}),
    "GET /batch-jobs/<int:job_id>/download": Entry(objects={"job_id": "batch_job"}),  # failed: 409
    "GET /api/v1/batch-jobs/<int:job_id>": Entry(objects={"job_id": "batch_job"}),
    "GET /api/v1/batch-jobs/<int:job_id>/download": Entry(objects={"job_id": "batch_job"}),
    # drift and actuals (#7)
    "GET /monitoring/models/<int:model_id>/drift": Entry(),
    "GET /api/v1/models/<int:model_id>/drift": Entry(),
    "POST /api/v1/models/<int:model_id>/actuals": Entry(json={"actuals": []},
                                                        other_json={"actuals": [{"prediction_id": "x", "value": 1}]}),
    # admin pages (#7): acting on a user; to anyone but an admin they do not exist
    "POST /admin/users/<int:user_id>/disable": Entry(admin=True, fresh=True),
    "POST /admin/users/<int:user_id>/enable": Entry(admin=True, fresh=True),
    "POST /admin/users/<int:user_id>/delete": Entry(admin=True, fresh=True),
}

# Which object each URL argument names (the owner's), and how to make a fresh one.
ID_ARGS = {
    "dataset_id": (lambda w: w.dataset_id, fresh_dataset),
    "batch_job": (lambda w: w.batch_job_id, None),
    "user_id": (lambda w: w.owner_id, fresh_user),
    "model_id": (lambda w: w.model_id, fresh_model),
    "job_id": (lambda w: w.job_id, None),
    "token_id": (lambda w: w.owner_token_id, fresh_token),
    "position": (lambda w: 0, lambda w: 0),  # a row of the dataset, not an object of its own
}

# Routes that take another object's id in their body rather than their path.
BODY_IDS = {
    "POST /api/v1/training-jobs": lambda w, ds: {"dataset_id": ds, "target": "species", "time_budget_s": 5,
                                                 "max_candidates": 1},
    "POST /api/v1/training-jobs/preview": lambda w, ds: {"dataset_id": ds, "target": "species"},
}

# Pages that are not a user's objects: no login, no id (checked elsewhere or public).
NOT_USER_ROUTES = {"static", "core.api_docs", "api-docs.openapi_json", "core.healthz", "core.readyz",
                   "prometheus_metrics"}

HOW_TO_ADD = (
    "Add a line to MATRIX in tests/security/test_access_matrix.py, e.g.\n"
    '    "{key}": Entry(),\n'
    "with json=/data= for a request body that changes nothing for the owner, or fresh=True if the "
    "route changes or deletes its object (and a make-fresh function in ID_ARGS for a new id kind)."
)


def id_routes(app) -> dict[str, object]:
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_USER_ROUTES or not rule.arguments:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes[f"{method} {rule.rule}"] = rule
    return routes


def test_every_route_with_an_id_has_a_matrix_entry(world: World):
    routes = id_routes(world.app)
    missing = sorted(set(routes) - set(MATRIX))
    assert not missing, "routes with an object id but no access-matrix entry:\n" + "\n".join(
        HOW_TO_ADD.format(key=key) for key in missing)
    stale = sorted(set(MATRIX) - set(routes))
    assert not stale, f"matrix entries for routes that no longer exist (remove them): {stale}"
    unknown = sorted({a for rule in routes.values() for a in rule.arguments} - set(ID_ARGS))
    assert not unknown, f"URL arguments the matrix cannot fill: {unknown}; add them to ID_ARGS"


def test_the_openapi_spec_and_the_url_map_agree(world: World):
    spec = world.app.test_client().get("/api/openapi.json").json
    routes = id_routes(world.app)
    for path, operations in spec["paths"].items():
        for method in operations:
            if method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                continue
            rule = path.replace("{", "<int:").replace("}", ">")
            key = f"{method.upper()} {rule}"
            if "{" in path:
                assert key in routes and key in MATRIX, HOW_TO_ADD.format(key=key)


def _build(template: str, ids: dict) -> str:
    out = template
    for name, value in ids.items():
        out = out.replace(f"<int:{name}>", str(value))
    return out


def _send(w: World, who: str, key: str, url: str, htmx: bool = False, as_other: bool = False):
    method, rule = key.split(" ", 1)
    entry = MATRIX[key]
    if rule.startswith("/api/"):
        client = w.app.test_client()
        kwargs = {}
        if as_other and entry.other_json is not None:
            kwargs["json"] = entry.other_json
        elif entry.json is not None:
            kwargs["json"] = entry.json
        elif entry.data is not None:
            kwargs["data"] = entry.data
            kwargs["content_type"] = "multipart/form-data"
        return client.open(url, method=method, headers=w.api(who), **kwargs)
    return w.browser(who).request(method, url, htmx=htmx, data=entry.data)


def _ids(w: World, rule, fresh: bool, entry: Entry | None = None) -> dict:
    ids = {}
    for name in rule.arguments:
        current, make = ID_ARGS[(entry.objects if entry else {}).get(name, name)]
        ids[name] = make(w) if fresh and make else current(w)
    return ids


def _is_login_redirect(r, htmx: bool) -> bool:
    """A page: a redirect to the login page. An htmx fragment: HX-Redirect there (a full page load),
    never a 302, which htmx would follow and swap the login page into the fragment's target."""
    if htmx:
        return (r.status_code == 200 and "Location" not in r.headers and not r.text
                and r.headers.get("HX-Redirect", "").startswith("/auth/login"))
    return r.status_code in (301, 302, 303, 307) and "/auth/login" in r.headers.get("Location", "")


def _variants(key: str) -> list[bool]:
    """HTML routes are checked as a page and as an HTMX fragment; API routes once."""
    return [False] if key.split(" ", 1)[1].startswith("/api/") else [False, True]


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_another_user_gets_the_answer_of_a_missing_id(world: World, key: str):
    routes = id_routes(world.app)
    if key not in routes:
        pytest.fail(f"{key} is in the matrix but not in the app")
    rule = routes[key]
    ids = _ids(world, rule, fresh=False, entry=MATRIX[key])
    asker = "other" if MATRIX[key].admin else "owner"  # on admin pages everyone but an admin is "other"
    for htmx in _variants(key):
        other = _send(world, "other", key, _build(rule.rule, ids), htmx, as_other=True)
        assert other.status_code == 404, (key, htmx, other.status_code, other.text[:300])
        missing = _send(world, asker, key, _build(rule.rule, {**ids, **{
            a: MISSING_ID for a in rule.arguments if a != "position"}}), htmx, as_other=True)
        assert missing.status_code == 404, (key, htmx, missing.status_code, missing.text[:300])
        if key.split(" ", 1)[1].startswith("/api/"):
            assert other.json["message"] == missing.json["message"], key
        for secret in SECRETS:
            assert secret not in other.text, (key, secret)
        count("routes x roles checked")


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_anonymous_is_sent_to_log_in(world: World, key: str):
    rule = id_routes(world.app)[key]
    url = _build(rule.rule, _ids(world, rule, fresh=False, entry=MATRIX[key]))
    for htmx in _variants(key):
        r = _send(world, "anonymous", key, url, htmx)
        if key.split(" ", 1)[1].startswith("/api/"):
            assert r.status_code == 401, (key, r.status_code)
            assert r.json["code"] == 401 and "WWW-Authenticate" in r.headers
        else:
            assert _is_login_redirect(r, htmx), (key, htmx, r.status_code, r.headers.get("Location"))
        for secret in SECRETS:
            assert secret not in r.text, (key, secret)
        count("routes x roles checked")


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_the_owner_is_let_in(world: World, key: str):
    rule = id_routes(world.app)[key]
    entry = MATRIX[key]
    for htmx in _variants(key):
        url = _build(rule.rule, _ids(world, rule, fresh=entry.fresh, entry=entry))
        r = _send(world, "admin" if entry.admin else "owner", key, url, htmx)
        assert r.status_code not in (401, 403, 404) and r.status_code < 500, (key, htmx, r.status_code,
                                                                              r.text[:300])
        if 300 <= r.status_code < 400:
            assert "/auth/login" not in r.headers.get("Location", ""), key
        count("routes x roles checked")


@pytest.mark.parametrize("key", sorted(BODY_IDS))
def test_an_id_in_the_body_is_checked_too(world: World, key: str):
    method, path = key.split(" ", 1)
    client = world.app.test_client()
    other = client.open(path, method=method, headers=world.api("other"), json=BODY_IDS[key](world, world.dataset_id))
    missing = client.open(path, method=method, headers=world.api("other"), json=BODY_IDS[key](world, MISSING_ID))
    assert other.status_code == missing.status_code == 404, (other.json, missing.json)
    assert other.json["message"] == missing.json["message"]
    assert client.open(path, method=method, json=BODY_IDS[key](world, world.dataset_id)).status_code == 401
    count("routes x roles checked", 2)


# --- lists and searches never show another user's objects ---------------------------------------

def list_routes(app) -> list[str]:
    """Every GET route without arguments that a signed-in user may open (pages, fragments, API lists)."""
    skip = NOT_USER_ROUTES | {"auth.logout", "auth.login", "auth.register"}
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if not rule.arguments and "GET" in rule.methods and rule.endpoint not in skip)


def test_lists_and_searches_never_show_another_users_names(world: World):
    routes = list_routes(world.app)
    assert {"/", "/models", "/experiments", "/api/v1/datasets", "/api/v1/models",
            "/api/v1/training-jobs"} <= set(routes)
    # the owner does see the names (so their absence below means something)
    assert SECRETS[0] in world.owner.request("GET", "/").text
    assert SECRETS[0] in world.app.test_client().get("/api/v1/datasets", headers=world.api("owner")).text
    checked = 0
    for route in routes:
        for query in ("", f"?q={SECRETS[0]}&search={SECRETS[0]}&name={SECRETS[0]}"):
            url = route + query
            if route.startswith("/api/"):
                r = world.app.test_client().get(url, headers=world.api("other"))
            else:
                r = world.other.request("GET", url)
                hx = world.other.request("GET", url, htmx=True)
                assert hx.status_code < 500, url
                for secret in SECRETS:
                    assert secret not in hx.text, (url, secret)
            assert r.status_code < 500, (url, r.status_code)
            for secret in SECRETS:
                assert secret not in r.text, (url, secret)
            if route.startswith("/api/v1/") and r.status_code == 200 and isinstance(r.json, list):
                assert r.json == [] or all(item.get("user_id", world.other_id) == world.other_id
                                           for item in r.json if isinstance(item, dict)), url
            checked += 1
    count("list and search pages checked as another user", checked)
