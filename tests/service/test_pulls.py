"""Six features built at once through the service, merged one after another through the API."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import git
from tests.review.test_refresh import check_main, round_trip
from tests.service.conftest import Server, wait_final

SIX = {
    "kennel_booking": "nights: int >=1 <=30",
    "diet_plan": "calories: int >=0 <=5000",
    "vet_visit": "reason: str len>=1 len<=80",
    "grooming_slot": "minutes: int >=15 <=240",
    "walk_log": "distance_km: float >=0 <=50",
    "toy_stock": "toy: str len>=1 len<=40\ncount: int >=0",
}


def test_six_concurrent_builds_merge_through_the_api_in_one_line_each(tmp_path: Path) -> None:
    server = Server(tmp_path / "petsage_backend", workers=3).start()
    try:
        with httpx.Client(base_url=server.url, timeout=600) as client:
            ids = []
            for feature, fields in SIX.items():
                request = {
                    "feature": feature,
                    "description": feature,
                    "requirements": fields,
                    "open_pr": True,
                }
                posted = client.post("/api/v1/builds", json=request)
                assert posted.status_code == 202, posted.text
                ids.append(posted.json()["id"])
            results = [wait_final(client, build_id, timeout=600) for build_id in ids]
            assert [r["status"] for r in results] == ["succeeded"] * 6, [
                r["reasons"] for r in results
            ]
            pulls = client.get("/api/v1/pulls").json()
            assert {p["sync"] for p in pulls} == {"up_to_date"} and len(pulls) == 6
            for pull in reversed(pulls):
                merged = client.post(f"/api/v1/pulls/{pull['id']}/merge")
                assert merged.status_code == 200, merged.text
                assert merged.json()["state"] == "merged"
                left = [p for p in client.get("/api/v1/pulls").json() if p["state"] == "open"]
                # Every PR still open followed main at once: none is left behind.
                assert {p["sync"] for p in left} <= {"up_to_date"}, left
            last = client.get(f"/api/v1/pulls/{pulls[0]['id']}").json()
            events = [c for c in last["comments"] if c.startswith("Rebased onto main")]
            assert len(events) == 5 and all("own files are unchanged" in e for e in events)
            assert client.post("/api/v1/pulls/refresh").json() == []
            missing = client.post("/api/v1/pulls/nope/refresh")
            assert missing.status_code == 404
    finally:
        server.stop()
    workspace = server.workspace
    folder = tmp_path / "main"
    git(workspace, "worktree", "add", "--detach", str(folder), "main")
    check_main(workspace, folder, SIX)
    round_trip(folder, f"sqlite:///{tmp_path / 'round.db'}", SIX)
    first_parents = git(workspace, "log", "--first-parent", "--format=%s", "main").splitlines()
    assert len(first_parents) == 7  # six merges and the skeleton
