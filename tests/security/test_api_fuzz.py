"""schemathesis over every operation of the OpenAPI spec, in process, with a real bearer token.

Checks: no 5xx, every response matches its documented schema, and negative data (that breaks
the schema) is refused with a 4xx. Examples per operation are few by default (the suite runs on
a shared machine); `make fuzz` (or FUZZ_EXAMPLES=n) raises them.

The calls are made as a user of their own (the fuzz user), so deleting or changing things never
touches the objects the other security tests share; the calls that would end the fuzz user's own
access (deleting the account, revoking a token) are made with a throwaway user's token. Training
starts are harmless: the fuzz user has no dataset a random target could match, and any job that
did start is cancelled at the end.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from tests.conftest import PASSWORD
from tests.security.conftest import World, count

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
# Operations that would take the fuzz user's own access away: a throwaway user makes them.
SELF_ENDING = {"DELETE /api/v1/auth/me", "DELETE /api/v1/auth/tokens/{token_id}"}


def _token_for_new_user(app, email: str) -> str:
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    with app.app_context():
        user = ops.register_user(email, PASSWORD)
        db.session.commit()
        _, secret = ops.create_token(user, "fuzz", None)
        db.session.commit()
        return secret


@pytest.fixture(scope="session")
def fuzz_user(world: World) -> dict:
    state = {"token": _token_for_new_user(world.app, "fuzz@example.com"), "throwaway": 0}
    yield state
    _cancel_active_jobs(world)


def _cancel_active_jobs(world: World) -> None:
    from app.extensions import db
    from app.jobs import service as jobs
    from app.models import Job

    with world.app.app_context():
        for job in db.session.query(Job).filter(Job.status.in_(("queued", "running"))).all():
            jobs.cancel(job)
        db.session.commit()


def _spec() -> dict:
    """The app's own OpenAPI document, read at collection time from an app on a scratch folder."""
    import tempfile

    from app import create_app
    from config import TestConfig

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(TestConfig(folder))
        spec = app.test_client().get("/api/openapi.json").json
        from app.extensions import db

        with app.app_context():
            db.engine.dispose()
    # The token is ours to send (a real one, on every call): without the security requirement,
    # schemathesis does not make "negative" Authorization headers that the call then replaces.
    # Anonymous and bad tokens are the access matrix's and test_sessions_and_headers.py's cases.
    spec.pop("security", None)
    for operations in spec["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return spec


schema = schemathesis.openapi.from_dict(_spec())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_every_operation_survives_fuzzing(case, world: World, fuzz_user: dict):
    token = fuzz_user["token"]
    if case.operation.label in SELF_ENDING:
        fuzz_user["throwaway"] += 1
        token = _token_for_new_user(world.app, f"throwaway{fuzz_user['throwaway']}@example.com")
    response = case.call(app=world.app, headers={"Authorization": f"Bearer {token}"})
    count("schemathesis examples run")
    if response.status_code >= 500:
        count("schemathesis server errors")
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance,
                                             negative_data_rejection])
