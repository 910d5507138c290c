"""Acceptance: items are kept in the database, so they outlive a restart of the app."""

from pathlib import Path

from tests.acceptance.contract import survives_restart

F = "pet_note"


def test_a_note_survives_a_restart(tmp_path: Path) -> None:
    item = survives_restart(tmp_path, F, {"text": "Allergic to chicken", "pinned": True})
    assert item["text"] == "Allergic to chicken" and item["pinned"] is True
