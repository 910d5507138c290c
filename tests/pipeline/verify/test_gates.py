"""The gates' rules on their own: AST scans, the contract diff, unwiring, the requirement ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.box.run import TestCase
from agent.pipeline.verify import contract, unwired, weakening
from agent.pipeline.verify.requirements_map import requirements_of
from agent.pipeline.verify.testsource import read_tests
from agent.pipeline.wiring import wire_router
from agent.prompt_files import skeleton_files
from agent.request import decode_request

GOOD = """
def test_ok(client):
    response = client.get("/api/v1/x")
    assert response.status_code == 200
    assert response.json() == {"a": 1}
"""


def test_a_clean_module_has_no_finding() -> None:
    assert weakening.scan("t.py", GOOD) == []


def test_each_way_of_skipping_or_swallowing_is_named_with_its_line() -> None:
    source = (
        "import pytest\nfrom pytest import importorskip\n\n"
        "@pytest.mark.xfail\ndef test_a(client):\n    pytest.skip('no')\n\n"
        "def test_b(client):\n    try:\n        assert client.get('/').status_code == 1\n"
        "    except Exception:\n        pass\n\n"
        "def test_c():\n    assert 1 == 1\n    assert 'x'\n"
    )
    reasons = weakening.scan("t.py", source)
    assert any("t.py:2:" in r and "importorskip" in r for r in reasons)
    assert any("t.py:4:" in r and "xfail" in r for r in reasons)
    assert any("t.py:6:" in r and "skips" in r for r in reasons)
    assert any("t.py:11:" in r and "catches AssertionError" in r for r in reasons)
    assert any("assert 1 == 1" in r for r in reasons) and any("assert 'x'" in r for r in reasons)
    assert len(reasons) == 6


def test_catching_exception_around_no_assert_is_allowed() -> None:
    source = "def test_a(client):\n    try:\n        client.get('/')\n    except Exception:\n        raise\n    assert client\n"
    assert weakening.scan("t.py", source) == []


def test_a_rebuild_may_not_drop_a_test_or_lose_asserts() -> None:
    before = GOOD + "\n\ndef test_gone(client):\n    assert client.get('/').status_code == 404\n"
    weaker = GOOD.replace('    assert response.json() == {"a": 1}\n', "")
    reasons = weakening.compare("t.py", before, weaker)
    assert reasons == [
        "t.py::test_ok was weakened: 1 assert(s) where the base branch had 2",
        "t.py::test_gone passed on the base branch and was removed",
    ]
    assert weakening.compare("t.py", before, None)[0].endswith("was removed")


def test_unwire_takes_out_exactly_the_features_router() -> None:
    main = skeleton_files()["src/main.py"]
    wired = wire_router(wire_router(main, "pets"), "owners")
    assert unwired.unwire(wired, "pets") == wire_router(main, "owners")
    assert unwired.unwire(main, "pets") == main


def test_import_and_collection_errors_are_weak_evidence_and_params_fold_into_their_test() -> None:
    prefix = "tests.features.f."
    cases = [
        TestCase(prefix + "test_f.test_a[1]", "passed"),
        TestCase(prefix + "test_f.test_a[2]", "failed", "assert 404 == 200"),
        TestCase(prefix + "test_f.test_b", "failed", "ModuleNotFoundError: no module src.x"),
        TestCase(prefix + "test_f.test_c", "error", "fixture"),
        TestCase(prefix + "test_f.test_d", "passed"),
        TestCase("tests.test_main.test_root", "failed"),
    ]
    assert unwired.outcomes(cases, prefix) == {
        "test_a": "failed",
        "test_b": "weak",
        "test_c": "weak",
        "test_d": "passed",
    }


def test_every_declared_operation_needs_a_test_that_fails_unwired() -> None:
    source = (
        "URL = '/api/v1/x'\n\ndef _make(client):\n    return client.post(URL, json={}).json()\n\n"
        "def test_create(client):\n    assert _make(client)['id'] == 1\n\n"
        "def test_get(client):\n    item = _make(client)\n"
        "    assert client.get(f\"{URL}/{item['id']}\").status_code == 200\n"
    )
    tests = read_tests(source)
    assert tests["test_get"].calls == {("post", "collection"), ("get", "item")}
    outcome, passing = unwired.gate(
        tests, {"test_create": "failed", "test_get": "failed"}, ["create", "get", "delete"]
    )
    assert outcome.reasons == [
        "operation 'delete' has no test that fails with the router unmounted"
    ]
    outcome, passing = unwired.gate(tests, {"test_create": "passed", "test_get": "weak"}, [])
    assert not outcome.ok and passing == ["test_create"]


def test_new_paths_only_under_the_prefix_and_nothing_existing_changes() -> None:
    base = {
        "paths": {"/": {"get": {"responses": {"200": {}}}}},
        "components": {"schemas": {"A": {"type": "object"}}},
    }
    built = {
        "paths": {
            "/": {"get": {"responses": {"200": {}, "418": {}}}},
            "/api/v1/pets": {"post": {"responses": {"201": {}}}},
            "/api/v1/pets/{id}": {"get": {"responses": {"200": {}}}},
            "/api/v1/pets-admin": {"get": {"responses": {"200": {}}}},
        },
        "components": {"schemas": {"A": {"type": "string"}, "Pet": {}}},
    }
    diff = contract.diff(base, built)
    outcome = contract.gate(diff, "pets", rebuild=False)
    assert outcome.reasons == [
        "GET /api/v1/pets-admin is a new path outside the feature's prefix /api/v1/pets",
        "GET / existed on the base branch and was changed (status 418 added)",
        "schema A existed on the base branch and was changed",
    ]
    assert "+ POST /api/v1/pets" in contract.render(diff)
    assert "~ GET /: status 418 added" in contract.render(diff)


def _served(*routes: tuple[str, str, bool], middleware: list[str] | None = None) -> dict:
    return {
        contract.SERVED: {
            "routes": [
                {"kind": kind, "path": path, "methods": ["GET"], "schema": schema}
                for kind, path, schema in routes
            ],
            "middleware": middleware or [],
        }
    }


def test_a_route_the_document_does_not_show_is_named() -> None:
    docs = ("Route", "/docs", False)
    base = {"paths": {}, **_served(docs)}
    honest = {"paths": {"/api/v1/pets": {}}, **_served(docs, ("APIRoute", "/api/v1/pets", True))}
    assert contract.gate(contract.diff(base, honest), "pets", rebuild=False).ok
    hidden = {"paths": {}, **_served(docs, ("APIRoute", "/api/v1/admin-dump", False))}
    outcome = contract.gate(contract.diff(base, hidden), "pets", rebuild=False)
    assert outcome.reasons == [
        "APIRoute GET /api/v1/admin-dump is served but not in the OpenAPI document"
    ]
    mounted = {"paths": {}, **_served(docs, ("Mount", "/static", True))}
    assert not contract.gate(contract.diff(base, mounted), "pets", rebuild=False).ok
    wrapped = {"paths": {}, **_served(docs, middleware=["<class 'Spy'>"])}
    assert contract.gate(contract.diff(base, wrapped), "pets", rebuild=False).reasons == [
        "the app's middleware changed: a feature adds only routes"
    ]
    unlisted = {"paths": {}}
    assert not contract.gate(contract.diff(base, unlisted), "pets", rebuild=False).ok


def test_a_rebuild_may_change_its_own_operations() -> None:
    base = {"paths": {"/api/v1/pets": {"get": {"responses": {"200": {}}}}}}
    built = {"paths": {"/api/v1/pets": {"get": {"responses": {"200": {}, "404": {}}}}}}
    diff = contract.diff(base, built)
    assert contract.gate(diff, "pets", rebuild=True).ok
    assert not contract.gate(diff, "pets", rebuild=False).ok


def test_requirement_ids_of_a_resource_and_of_free_text() -> None:
    request = decode_request(
        {
            "feature": "pets",
            "description": "d",
            "requirements": "age: int >=0 <=40\nnick: str? len<=30\noperations: create, get",
        }
    )
    assert list(requirements_of(request)) == [
        "op.create",
        "op.get",
        "age.type",
        "age.ge",
        "age.le",
        "age.required",
        "nick.type",
        "nick.max_length",
    ]
    text = decode_request({"feature": "pets", "description": "d", "requirements": "- a\n- b"})
    assert list(requirements_of(text)) == ["text.1", "text.2"]


def test_a_reply_maps_requirements_in_a_markdown_table_or_json_rows() -> None:
    import json

    from agent.bundle import parse_reply

    text = (
        "Summary.\n\n**File:** `src/features/x/x_models.py`\n```python\n"
        "TABLE = '| op.create | test_in_code |'\n```\n\n"
        "| requirement | tests |\n| --- | --- |\n| op.create | `test_a`, test_b |\n| age.le | test_c |\n"
    )
    bundle = parse_reply(text, "x")
    assert bundle.requirements == {"op.create": ["test_a", "test_b"], "age.le": ["test_c"]}
    assert parse_reply(bundle.to_markdown(), "x").requirements == bundle.requirements
    rows = {
        "feature": "x",
        "files": [{"path": "src/features/x/x_models.py", "content": "x = 1\n"}],
        "requirements": [{"id": "op.create", "tests": ["test_a"]}],
    }
    assert parse_reply(json.dumps(rows), "x").requirements == {"op.create": ["test_a"]}


def test_lint_without_ruff_says_so_instead_of_failing_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.pipeline.verify import lint

    (tmp_path / "a.py").write_text("import os\n")
    monkeypatch.setattr(lint, "ruff_binary", lambda: None)
    outcome = lint.gate(tmp_path, ["a.py"])
    assert outcome.ok and "not installed" in str(outcome.figures["skipped"])
