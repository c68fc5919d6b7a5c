"""Schemathesis against the HTTP API, from its own OpenAPI schema.

Property-based: for every operation of /api/schema/, requests built from the
schema (valid and invalid ones), authenticated with a token, sent through
the WSGI application; every response must be what the schema documents,
under schemathesis's default checks (no server error, a documented status
code and body, auth enforced, ...). Seeded (derandomize), so a run is
reproducible; SCHEMATHESIS_EXAMPLES cases per operation and kind (valid,
invalid): 10, about 260 requests; 25 with `pytest --long`, about 650.
"""

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection

from .sizes import size

EXAMPLES = size("SCHEMATHESIS_EXAMPLES", quick=10, full=25)

# Schemathesis's default checks, with one adjustment: a request valid by the
# schema may still be refused with 400, because it names an object that does
# not exist or that the user may not see (`?topic=12345`, a comment on topic
# 0): no schema can say which ids exist. The 400 is documented on every
# operation with input.
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]


def load(mode):
    config = SchemathesisConfig.from_dict(
        {
            "generation": {"mode": mode},
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        }
    )
    return schemathesis.openapi.from_wsgi(
        "/api/schema/", get_wsgi_application(), config=config
    )


# Requests the schema allows, and requests it does not (wrong types, missing
# fields, out-of-range values).
valid = load("positive")
invalid = load("negative")


# The key of the token the autouse fixture gives a user of the test database.
TOKEN = "schemathesis0000000000000000000000000000"


@valid.auth()
@invalid.auth()
class TokenOfATestUser:
    """`Authorization: Token <key>` (read by schemathesis before any database)."""

    def get(self, case, context):
        return TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@pytest.fixture(autouse=True)
def test_user_with_a_token(db, settings):
    """The user the requests authenticate as; as Django's test client does,
    a request must not close the test's database. Wrong Basic passwords are
    not limited: the checks send hundreds from one address, and the 429 past
    the limit would answer for the authentication under test."""
    settings.REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS = 0
    user = get_user_model().objects.create_user(username="schemathesis")
    Token.objects.create(user=user, key=TOKEN)
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@valid.parametrize()
@SETTINGS
def test_valid_requests_get_documented_answers(case):
    """Every default check: no server error, documented status, content type,
    headers and body, valid data accepted, auth enforced, ..."""
    case.call_and_validate()


@invalid.parametrize()
@SETTINGS
def test_invalid_requests_get_documented_answers(case):
    """Every default check but `negative_data_rejection`, which wants every
    request the schema forbids refused: DRF is more lenient than its schema
    on purpose (a CharField takes 0 as "0"; a boolean filter ignores a value
    it cannot read), and a lenient server is safe for clients that follow the
    schema. Invalid input must still never cause a server error or an
    undocumented answer."""
    case.call_and_validate(excluded_checks=[negative_data_rejection])


def test_every_operation_documents_its_errors(client):
    """401, 403 and 429 everywhere; 400 where there is input; 404 where a
    path names an object or a list is paged (realtime_api/schema/openapi_errors.py)."""
    document = client.get("/api/schema/", headers={"Accept": "application/json"})
    paths = document.json()["paths"]
    assert paths
    for path, item in paths.items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation["responses"]
            assert {"401", "403", "429"} <= set(responses), (method, path)
            names = {p["name"] for p in operation.get("parameters", [])}
            if "requestBody" in operation or any(
                p["in"] == "query" for p in operation.get("parameters", [])
            ):
                assert "400" in responses, (method, path)
            if "{" in path or "page" in names:
                assert "404" in responses, (method, path)
