"""`--model replay:DIR`: each task answered from the replies an earlier eval recorded in DIR.

An eval run with any other model records every task's exchanges in `OUT/recordings/` (one
`eval-<task>-<attempt>.json` each, agent.models.recording's format) and each refusal beside
them (`….refused.json`), so that a replay refuses the same tasks with the same reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent.errors import ConfigError, ModelRefused
from agent.models.base import Model
from agent.models.recording import replay_model
from agent.models.scripted import ScriptedModel
from agent.request import FeatureRequest

REFUSED = ".refused.json"


class ReplayedModel(ScriptedModel):
    """A recorded task's replies, under the recorded model's name (so its cost is the same)."""

    def __init__(self, inner: ScriptedModel | None, name: str, refusal: str | None) -> None:
        super().__init__((), name=name)
        if inner is not None:
            self._queue = inner._queue
        self.refusal = refusal

    def check(self, request: FeatureRequest) -> None:
        if self.refusal is not None:
            raise ModelRefused(self.refusal)


def replayed(folder: Path, task: str, attempt: int) -> Model:
    """The model that answers a task's attempt as it was answered when recorded in `folder`.

    Besides recordings, `folder/<task>.md` is a hand-written reply for round 1 of any attempt
    (`evals/_reference/`: the reference solutions of the `reach: model` tasks).
    """
    build_id = f"eval-{task}-{attempt}"
    written = folder / f"{task}.md"
    if not (folder / f"{build_id}.json").is_file() and written.is_file():
        return ReplayedModel(ScriptedModel([written.read_text()]), f"replay:{folder.name}", None)
    refused = folder / f"{build_id}{REFUSED}"
    if refused.is_file():
        record = _read(refused)
        return ReplayedModel(None, str(record.get("model", "replay")), str(record["reason"]))
    path = folder / f"{build_id}.json"
    if not path.is_file():
        raise ConfigError(f"--model replay:{folder}: no recording {path.name} for this task")
    record = _read(path)
    return ReplayedModel(replay_model(path), str(record.get("model", "replay")), None)


def record_refusal(folder: Path, build_id: str, model: str, reason: str) -> None:
    """Keep why the model refused a task, for its replay."""
    folder.mkdir(parents=True, exist_ok=True)
    body = {"format": "petsage-refusal/1", "model": model, "reason": reason}
    (folder / f"{build_id}{REFUSED}").write_text(json.dumps(body, indent=1))


def forget(folder: Path, build_id: str) -> None:
    """Drop an earlier recording of the build before it is recorded anew."""
    for path in (folder / f"{build_id}.json", folder / f"{build_id}{REFUSED}"):
        path.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, object]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"--model replay: cannot read {path}: {e}") from e
    if not isinstance(record, dict):
        raise ConfigError(f"--model replay: {path} is not a recording")
    return record
