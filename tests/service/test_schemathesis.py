"""Property-based API tests with schemathesis against the live server's OpenAPI document (bounded examples)."""

from __future__ import annotations

import pytest

from tests.service.conftest import Server

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::ResourceWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]
MAX_EXAMPLES = 12


def test_api_conforms_to_its_openapi_document(sqlite_server: Server) -> None:
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(f"{sqlite_server.url}/openapi.json")
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance,
              status_code_conformance, response_headers_conformance]
    headers = {"Authorization": f"Bearer {sqlite_server.tokens['admin']}"}
    tested = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.method.upper() == "DELETE":
            continue  # would cancel jobs the other tests are waiting on

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case) -> None:
            case.call_and_validate(base_url=sqlite_server.url, headers=headers, checks=checks, timeout=60)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:1500]}")
        tested.append(f"{op.method.upper()} {op.path}")
    assert len(tested) >= 10, tested
    assert not failures, "\n\n".join(failures) + "\n" + sqlite_server.tail()
