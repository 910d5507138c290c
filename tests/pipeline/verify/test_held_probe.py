"""The gates' probe is started with the round, before the model is asked, and held until the
files are in place; it serves the round that reaches its tests, and nothing of it outlives the
build (real sandboxed processes, scripted model)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from agent.errors import ModelError
from agent.models.base import GenerationTask
from agent.models.scripted import ScriptedModel
from agent.pipeline.loop import Builder
from agent.pipeline.verify import fuzz, mutation
from agent.pipeline.verify.box import PLUGINS
from agent.pipeline.verify.outcome import GateOutcome
from agent.settings import Settings
from tests.conftest import SEED_TEXT
from tests.pipeline.test_loop import seed_bundle


def _ours(pid: int) -> bool:
    """A descendant of this test process: other builds on the machine (another test run, a
    service) hold probes of their own."""
    me = os.getpid()
    while pid > 1:
        if pid == me:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rpartition(")")[2].split()[1])
    return False


def held_probes(expect_one: bool = True) -> list[Path]:
    """The scratch folders of the held probes running now, by their command lines on the host.

    A process between two of its start's programs (sh, prlimit, bwrap) can read as empty for a
    moment, so one that is expected is looked for again for up to two seconds.
    """
    deadline = time.monotonic() + (2.0 if expect_one else 0.0)
    while True:
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            scripts = [a for a in args if a.endswith(f"{PLUGINS}/petsage_probe.py")]
            if scripts and "--held" in args and _ours(int(entry.name)):
                found.add(Path(scripts[0]).parent.parent)  # the scratch folder
        if found or time.monotonic() > deadline:
            return sorted(found)
        time.sleep(0.02)


def held_probe_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            held = any(a.endswith("petsage_probe.py") for a in args) and "--held" in args
            if held and _ours(int(entry.name)):
                pids.append(int(entry.name))
    return pids


def test_the_probe_is_held_while_the_model_answers_and_then_runs_the_gates(
    settings: Settings,
) -> None:
    seen: list[list[Path]] = []
    owners: list[int] = []

    def answer(task: GenerationTask) -> object:
        seen.append(held_probes())
        owners.extend(folder.stat().st_uid for folder in seen[-1])
        return seed_bundle()

    model = ScriptedModel([answer])
    result = Builder(settings.model_copy(update={"verify": "standard"}), model=model).run(SEED_TEXT)
    assert result.status == "succeeded", result.reasons
    assert len(seen[0]) == 1, seen  # one probe, started before the model was asked
    assert result.verification is not None and result.verification.ok
    if os.geteuid() == 0:  # held, its scratch folder stays the builder's until the release
        assert owners[0] == os.geteuid(), owners
    gates = {g.gate: g for g in result.verification.gates}
    assert gates["unwired"].ok and gates["contract"].ok  # the probe's own work, done
    assert (
        held_probes(expect_one=False) == [] and not seen[0][0].exists()
    )  # nothing of it outlives the build


def test_a_round_that_never_tests_keeps_its_probe_for_the_next(settings: Settings) -> None:
    seen: list[list[Path]] = []

    def invalid(task: GenerationTask) -> object:
        seen.append(held_probes())
        return "no files here at all"

    def valid(task: GenerationTask) -> object:
        seen.append(held_probes())
        return seed_bundle()

    model = ScriptedModel([invalid, valid])
    result = Builder(settings.model_copy(update={"verify": "standard"}), model=model).run(SEED_TEXT)
    assert result.status == "succeeded", result.reasons
    assert result.rounds[0].outcome != "passed"
    assert len(seen[0]) == 1 and seen[1] == seen[0], seen  # the same held probe, reused
    assert result.verification is not None and result.verification.ok
    assert held_probes(expect_one=False) == [] and not seen[0][0].exists()


def test_a_build_that_ends_before_its_tests_leaves_no_probe(settings: Settings) -> None:
    seen: list[list[Path]] = []

    def fail(task: GenerationTask) -> object:
        seen.append(held_probes())
        raise ModelError("the model server went away")

    result = Builder(
        settings.model_copy(update={"verify": "standard"}), model=ScriptedModel([fail])
    ).run(SEED_TEXT)
    assert result.status == "failed"
    assert len(seen[0]) == 1, seen
    assert held_probes(expect_one=False) == [] and not seen[0][0].exists()


def test_with_the_gates_off_no_probe_is_started(settings: Settings) -> None:
    seen: list[list[Path]] = []

    def answer(task: GenerationTask) -> object:
        seen.append(held_probes(expect_one=False))
        return seed_bundle()

    result = Builder(
        settings.model_copy(update={"verify": "off"}), model=ScriptedModel([answer])
    ).run(SEED_TEXT)
    assert result.status == "succeeded", result.reasons
    assert seen == [[]]


def test_a_probe_killed_while_held_is_replaced_not_blamed_on_the_tests(
    settings: Settings,
) -> None:
    """Killed while the model answers (as the memory limit would): the gates run in a fresh
    probe and pass; the round is not rejected for what the box did."""
    killed: list[int] = []

    def answer(task: GenerationTask) -> object:
        held_probes()  # wait until it is there
        for pid in held_probe_pids():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        return seed_bundle()

    model = ScriptedModel([answer])
    result = Builder(settings.model_copy(update={"verify": "standard"}), model=model).run(SEED_TEXT)
    assert killed
    assert result.status == "succeeded", result.reasons
    assert len(result.rounds) == 1
    assert result.verification is not None and result.verification.ok
    assert held_probes(expect_one=False) == []


def test_the_thorough_gates_write_outside_the_probes_scratch_folder(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated code runs in the probe's box, which may write all of its scratch folder: the
    mutants and the fuzz run, written by the builder as itself, live elsewhere."""
    probe_scratch: list[Path] = []
    gate_folders: list[Path] = []

    def answer(task: GenerationTask) -> object:
        probe_scratch.extend(held_probes())
        return seed_bundle()

    def mutation_gate(worktree: Path, scratch: Path, *args: object) -> GateOutcome:
        gate_folders.append(scratch)
        return GateOutcome(gate="mutation", figures={"mutants": 0, "score": 1.0})

    def fuzz_gate(worktree: Path, scratch: Path, *args: object) -> GateOutcome:
        gate_folders.append(scratch)
        return GateOutcome(gate="fuzz")

    monkeypatch.setattr(mutation, "gate", mutation_gate)
    monkeypatch.setattr(fuzz, "gate", fuzz_gate)
    model = ScriptedModel([answer])
    result = Builder(settings.model_copy(update={"verify": "thorough"}), model=model).run(SEED_TEXT)
    assert result.status == "succeeded", result.reasons
    assert len(probe_scratch) == 1 and len(gate_folders) == 2
    assert all(not folder.is_relative_to(probe_scratch[0]) for folder in gate_folders)
