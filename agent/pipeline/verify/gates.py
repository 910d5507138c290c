"""The `verified` stage: run the gates on a built worktree and gather one `Verification`.

The static gates (weakening, lint) read files; the gates that import generated code (the OpenAPI
documents of the base and of the built app, the feature's tests with the router unmounted) run
in the box, on copies of the trees, at the same time.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from agent.box.budget import overrun_error
from agent.box.results import TestReport
from agent.box.run import has_pytest_config
from agent.bundle import FileBundle
from agent.layout import MAIN_PY, FeatureLayout
from agent.pipeline.verify import (
    contract,
    fuzz,
    lint,
    mutation,
    requirements_map,
    unwired,
    weakening,
)
from agent.pipeline.verify.box import PLUGINS, Box, BoxRun, HeldProbe, copy_tree
from agent.pipeline.verify.outcome import GateOutcome, Verification
from agent.pipeline.verify.testsource import TestFunction, read_tests
from agent.repo.workspace import TargetRepo
from agent.request import FeatureRequest
from agent.settings import Settings


class Verifier:
    """The gates of one round, started as soon as the files are in place.

    The box work that does not need the test report (the OpenAPI documents and the unwired
    run) starts at once in a thread, so it runs while the main test run does; `finish(report)`
    waits for it and runs the rest. `close()` stops and cleans up.
    """

    def __init__(
        self,
        worktree: Path,
        request: FeatureRequest,
        bundle: FileBundle,
        *,
        repo: TargetRepo,
        base: str,
        settings: Settings,
        box: Box,
        held: HeldProbe | None = None,
    ) -> None:
        """`held`: the probe started ahead (`Box.hold_probe`), which this verifier then owns."""
        self.worktree, self.request, self.bundle = worktree, request, bundle
        self.repo, self.base, self.settings, self.box = repo, base, settings, box
        self._stop = threading.Event()
        self._probe: _Probe | None = None
        self._error: BaseException | None = None
        self._held: HeldProbe | None = None
        self._thread: threading.Thread | None = None
        if settings.verify == "off":
            if held is not None:
                held.close()
            return
        if held is not None and not held.alive:
            held.close()  # it ended while held (killed: memory): a fresh one, not a failed gate
            held = None
        self._held = held if held is not None else box.hold_probe()
        self._thread = threading.Thread(target=self._run_probe, daemon=True)
        self._thread.start()

    def _run_probe(self) -> None:
        assert self._held is not None
        try:
            self._probe = _probe(
                self.worktree, self._held, self.request, self.repo, self.base, self._stop
            )
        except BaseException as e:  # re-raised by finish(), in the build's thread
            self._error = e

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._held is not None:
            self._held.close()
            self._held = None

    def finish(self, report: TestReport) -> Verification:
        """Every gate's outcome, given the main run's report."""
        try:
            return self._finish(report)
        finally:
            self.close()

    def _finish(self, report: TestReport) -> Verification:
        began = time.perf_counter()
        if self.settings.verify == "off" or self._held is None:
            return Verification(level="off")
        request, bundle, repo, base = self.request, self.bundle, self.repo, self.base
        settings, worktree, box = self.settings, self.worktree, self.box
        layout = FeatureLayout(request.feature)
        test_files = {
            f.path: f.content for f in bundle.files if f.path.startswith(layout.tests_dir + "/")
        }
        base_tests = {
            path: text
            for path in _base_files(repo, base, layout.tests_dir)
            if path.endswith(".py") and (text := repo.show(base, path)) is not None
        }
        rebuild = bool(_base_files(repo, base, layout.src_dir))
        tests: dict[str, TestFunction] = {}
        for source in test_files.values():
            tests.update(read_tests(source))
        gates: list[GateOutcome] = [
            weakening.gate(test_files, base_tests),
            lint.gate(worktree, [f.path for f in bundle.files]),
        ]
        thorough: list[GateOutcome] = []
        if settings.verify == "thorough":
            fields = {f.name for f in request.resource.fields} if request.resource else set()
            chosen = mutation.mutants(bundle, request.feature, fields)
            # Their own folder, never inside the probe's: the probe runs generated code in a box
            # that may write all of its scratch folder, and the builder writes the mutants' and
            # the fuzz run's files as itself.
            with tempfile.TemporaryDirectory(prefix="petsage-gates-") as own:
                thorough = [
                    mutation.gate(
                        worktree,
                        Path(own) / "mutants",
                        request.feature,
                        chosen,
                        box,
                        settings.min_mutation_score,
                    ),
                    fuzz.gate(worktree, Path(own) / "fuzz", request.feature, box),
                ]
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._probe is not None
        return self._assemble(report, tests, gates, thorough, rebuild, began)

    def _assemble(
        self,
        report: TestReport,
        tests: dict[str, TestFunction],
        gates: list[GateOutcome],
        thorough: list[GateOutcome],
        rebuild: bool,
        began: float,
    ) -> Verification:
        request, bundle, settings = self.request, self.bundle, self.settings
        assert self._probe is not None
        probe = self._probe
        prefix = f"tests.features.{request.feature}."
        off = unwired.outcomes(probe.unwired_cases, prefix)
        for name in tests:
            off.setdefault(name, "weak")
        operations: list[str] = (
            list(request.resource.operations) if request.resource else ["status"]
        )
        if request.resource is None and request.requirements is not None:
            operations = []
        unwired_gate, not_exercising = unwired.gate(
            tests, off, operations, run_note=probe.unwired_note
        )
        gates.insert(0, unwired_gate)
        diff = None
        if probe.built is None:
            gates.append(
                GateOutcome(
                    gate="contract",
                    ok=False,
                    reasons=[
                        f"the built app's OpenAPI document cannot be made: {probe.built_error}"
                    ],
                )
            )
        elif probe.base is None:
            gates.append(
                GateOutcome(
                    gate="contract",
                    figures={
                        "note": "the base app's OpenAPI document cannot be made: "
                        + probe.base_error
                    },
                )
            )
        else:
            diff = contract.diff(probe.base, probe.built)
            gates.append(contract.gate(diff, request.feature, rebuild=rebuild))
        results = unwired.outcomes(report.cases, prefix)
        requirement_gate, rows = requirements_map.gate(
            request, tests, dict(bundle.requirements), results, off
        )
        gates.append(requirement_gate)
        gates += thorough
        return Verification(
            level=settings.verify,
            ok=all(g.ok for g in gates),
            gates=gates,
            requirements=rows,
            contract=diff,
            not_exercising=not_exercising,
            seconds=round(time.perf_counter() - began, 4),
        )


def _base_files(repo: TargetRepo, base: str, folder: str) -> list[str]:
    names = repo.list_dir(base, folder)
    return [name if name.startswith(folder) else f"{folder}/{name}" for name in names]


class _Probe(NamedTuple):
    """What the probe found: the unwired run's cases (or why there are none), and each app's
    OpenAPI document (or why it cannot be made)."""

    unwired_cases: list[Any]
    unwired_note: str
    built: dict[str, Any] | None
    built_error: str
    base: dict[str, Any] | None
    base_error: str


def _probe(
    worktree: Path,
    held: HeldProbe,
    request: FeatureRequest,
    repo: TargetRepo,
    base: str,
    stop: threading.Event | None = None,
) -> _Probe:
    """One box process, held until the trees are in its scratch folder: the base's and the
    built app's OpenAPI, then the tests unwired."""
    scratch = held.scratch
    built = copy_tree(worktree, scratch, "built")
    unwired_tree = copy_tree(worktree, scratch, "unwired")
    main = unwired_tree / MAIN_PY
    main.write_text(unwired.unwire(main.read_text(), request.feature))
    base_tree = scratch / "base"
    base_tree.mkdir()
    subprocess.run(["tar", "-x", "-C", str(base_tree)], input=repo.archive(base), check=True)
    pytest_args = [
        FeatureLayout(request.feature).tests_dir,
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rootdir={unwired_tree}",
    ]
    if not has_pytest_config(unwired_tree):
        ini = scratch / PLUGINS / "pytest.ini"
        ini.write_text("[pytest]\n")
        pytest_args += ["-c", str(ini)]
    args = [str(base_tree), str(built), str(unwired_tree), "--", *pytest_args]
    held.process.release(args)
    run = held.process.finish(stop)
    if run.overrun is not None and run.overrun.infrastructure:
        raise overrun_error(run.overrun, "verified", "the gates' probe")
    cases = [] if run.breaches else run.session.cases
    note = "; ".join(run.breaches) if run.breaches else ("" if cases else _note(run))
    base_doc, base_error = _document(run, "base")
    built_doc, built_error = _document(run, "built")
    return _Probe(cases, note, built_doc, built_error, base_doc, base_error)


def _document(run: BoxRun, name: str) -> tuple[dict[str, Any] | None, str]:
    """One OpenAPI document from the probe's verified records, or why there is none."""
    if run.breaches:
        return None, "; ".join(run.breaches)[:400]
    record = run.session.documents.get(name)
    if record is None:
        return None, _note(run)
    document = record.get("doc")
    if isinstance(document, dict):
        try:
            loaded = contract.load(json.dumps(document))
            loaded[contract.SERVED] = {k: record.get(k) for k in ("routes", "middleware")}
            return loaded, ""
        except ValueError as e:
            return None, str(e)
    lines = [line for line in str(record.get("error") or "").splitlines() if line.strip()]
    return None, " / ".join(lines[-2:])[:400]


def _note(run: BoxRun) -> str:
    if run.timed_out:
        return "the run passed its timeout"
    tail = [line for line in run.output.strip().splitlines() if line.strip()][-3:]
    return f"exit {run.returncode}: " + " / ".join(tail)[:400]
