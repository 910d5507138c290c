import json

import pytest

from agent.bundle import BundleFile, FileBundle, normalise_content, parse_reply
from agent.errors import BundleError
from tests.conftest import SEED_TEXT

SEED_PATHS = [
    "src/features/smoke_test/smoke_test_models.py",
    "src/features/smoke_test/smoke_test_router.py",
    "tests/features/smoke_test/test_smoke_test.py",
]


def test_the_seed_parses_and_its_main_py_is_dropped_with_a_note() -> None:
    bundle = parse_reply(SEED_TEXT, "smoke_test")
    assert [f.path for f in bundle.files] == SEED_PATHS
    assert any("src/main.py" in note and "dropped" in note for note in bundle.notes)
    models = bundle.files[0].content
    assert models.startswith('"""\nPydantic models for the Smoke Test feature.')
    assert models.endswith('examples=["PetSage Backend is operational."]\n    )\n')


def test_markdown_round_trip() -> None:
    bundle = parse_reply(SEED_TEXT, "smoke_test")
    again = parse_reply(bundle.to_markdown(), "smoke_test")
    assert again.files == bundle.files


def test_json_form_and_fenced_json_parse_to_the_same_bundle() -> None:
    bundle = parse_reply(SEED_TEXT, "smoke_test")
    text = bundle.model_dump_json()
    assert parse_reply(text, "smoke_test") == bundle
    assert parse_reply(f"```json\n{text}\n```", "smoke_test") == bundle


def test_json_with_main_py_drops_it() -> None:
    text = json.dumps(
        {
            "feature": "pets",
            "files": [
                {"path": "src/main.py", "content": "x = 1"},
                {"path": "src/features/pets/a.py", "content": "a = 1"},
            ],
        }
    )
    bundle = parse_reply(text, "pets")
    assert [f.path for f in bundle.files] == ["src/features/pets/a.py"]
    assert bundle.notes and "src/main.py" in bundle.notes[0]


def test_file_label_variants_and_longer_fences() -> None:
    reply = (
        "### File: `src/features/pets/a.py`\n\n```python\na = 1\n```\n"
        "File: src/features/pets/b.py\n~~~\nb = '''\n```\n'''\n~~~\n"
        "**File:** `src/features/pets/c.py` (new)\n````python\nc = '''```'''\n````\n"
    )
    bundle = parse_reply(reply, "pets")
    assert [f.content for f in bundle.files] == [
        "a = 1\n",
        "b = '''\n```\n'''\n",
        "c = '''```'''\n",
    ]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Sorry, I cannot help with that.", "holds no files"),
        ("**File:** `src/features/pets/a.py`\nno code here\n", "no fenced code block"),
        ("**File:** `src/features/pets/a.py`\n```python\na = 1\n", "never closed"),
        ('{"feature": "pets", "files": [', "invalid JSON"),
        ('{"feature": "pets"}', "files"),
        ('{"feature": "pets", "files": [{"path": "a.py"}]}', "files.0.content"),
    ],
)
def test_bad_replies_are_refused_with_a_reason(reply: str, reason: str) -> None:
    with pytest.raises(BundleError) as caught:
        parse_reply(reply, "pets")
    assert reason in str(caught.value)


def test_normalise_content() -> None:
    assert normalise_content("a\r\nb\n\n\n") == "a\nb\n"
    assert normalise_content("   \n") == ""


def test_bundle_get() -> None:
    bundle = FileBundle(feature="pets", files=[BundleFile(path="x.py", content="")])
    assert bundle.get("x.py") is not None and bundle.get("y.py") is None
