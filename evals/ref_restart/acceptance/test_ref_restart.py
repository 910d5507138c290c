"""Acceptance: a related item is stored with its foreign key, and both outlive a restart."""

from pathlib import Path

from tests.acceptance.contract import in_new_process, url

F = "pet_meds"


def test_both_rows_survive_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "petsage.db"
    status, patient = in_new_process(database, "POST", url("pet_patient"), {"name": "Tom"})
    assert status == 201, patient
    body = {"patient_id": patient["id"], "drug": "Amoxicillin", "dose_mg": 250.0}
    status, dose = in_new_process(database, "POST", url(F), body)
    assert status == 201, dose
    status, again = in_new_process(database, "GET", url(F, dose["id"]))
    assert status == 200 and again == dose
    status, _ = in_new_process(database, "DELETE", url("pet_patient", patient["id"]))
    assert status == 409
    status, bad = in_new_process(database, "POST", url(F), {**body, "patient_id": 999})
    assert status == 422 and "patient_id" in str(bad)
