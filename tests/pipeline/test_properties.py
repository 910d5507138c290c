"""Property tests: any input to the request decoder or the reply parser gives a result or a
clear, named error, never an unhandled exception."""

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.bundle import FileBundle, parse_reply
from agent.errors import BundleError, RequestError
from agent.pipeline.checks import check_bundle
from agent.request import FeatureRequest, decode_request

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "feature",
        "description",
        "requirements",
        "base_branch",
        "open_pr",
        "payload",
        "fields",
        "extra",
    ]
)
REQUEST_LIKE = st.dictionaries(KEYS, JSON_VALUES, max_size=5)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decodes_or_explains(raw: object) -> None:
    try:
        request = decode_request(raw)  # type: ignore[arg-type]
    except RequestError as e:
        assert e.problems and all(p.reason for p in e.problems)
        assert e.kind in ("undecodable", "invalid", "too_large")
    else:
        assert isinstance(request, FeatureRequest)


@FAST
@given(st.binary(max_size=400))
def test_any_bytes(raw: bytes) -> None:
    decodes_or_explains(raw)


@FAST
@given(st.text(max_size=400))
def test_any_text(raw: str) -> None:
    decodes_or_explains(raw)


@FAST
@given(REQUEST_LIKE)
def test_any_json_object_in_every_encoding(data: dict) -> None:
    decodes_or_explains(data)
    text = json.dumps(data)
    decodes_or_explains(text)
    decodes_or_explains(base64.urlsafe_b64encode(text.encode()).decode().rstrip("="))
    decodes_or_explains({"payload": base64.b64encode(text.encode()).decode()})


@FAST
@given(
    st.lists(
        st.sampled_from(
            [
                "Feature: ",
                "Description: ",
                "Requirements:",
                "- ",
                "age: int",
                " >=",
                "1",
                "**",
                "`",
                "\n",
                "x",
                "|",
                "?",
                "len<=",
                "operations: ",
            ]
        ),
        max_size=40,
    )
)
def test_text_form_fragments(parts: list[str]) -> None:
    decodes_or_explains("".join(parts))


def parses_or_explains(text: str) -> None:
    try:
        bundle = parse_reply(text, "pets")
    except BundleError as e:
        assert e.problems and all(p.reason for p in e.problems)
        return
    assert isinstance(bundle, FileBundle)
    try:
        check_bundle(bundle, "pets")
    except BundleError as e:
        assert all(p.reason for p in e.problems)


@FAST
@given(st.text(max_size=600))
def test_any_reply_text(text: str) -> None:
    parses_or_explains(text)


@FAST
@given(
    st.lists(
        st.sampled_from(
            [
                "**File:** `src/features/pets/",
                "pets_models.py`",
                "x.py`",
                "../",
                "\n",
                "```python\n",
                "```\n",
                "~~~\n",
                "import os\n",
                "class A(BaseModel): pass\n",
                "def test_a(): pass\n",
                "{",
                "}",
                '"files": [',
                "]",
            ]
        ),
        max_size=30,
    )
)
def test_reply_fragments(parts: list[str]) -> None:
    parses_or_explains("".join(parts))


@FAST
@given(JSON_VALUES)
def test_any_json_reply(value: object) -> None:
    parses_or_explains(json.dumps(value))
