"""Gate 6 (`PETSAGE_VERIFY=thorough`): blueprint-aware mutants of the feature, and the score
of the feature's tests against them.

Up to `MAX_MUTANTS` mutants, chosen round-robin over three kinds so that each kind is tried:
a field rule's bound off by one (made stricter) or removed, a status code changed, a route
removed. Each runs the feature's tests in its own box, several at once, the mutant applied at
import while its file keeps its bytes; a mutant is killed when a test fails. The score is
killed / total; below `PETSAGE_MIN_MUTATION_SCORE` the round fails, naming the surviving
mutants.
"""

from __future__ import annotations

import ast
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import zip_longest
from pathlib import Path

from agent.box.budget import overrun_error
from agent.box.sized import bounded
from agent.bundle import FileBundle
from agent.layout import FeatureLayout
from agent.pipeline.verify.box import REPORTING, Box, BoxRun, copy_tree
from agent.pipeline.verify.outcome import GateOutcome
from agent.syntax import parse

MAX_MUTANTS = 12
_BOUND = re.compile(r"\b(ge|gt|le|lt|min_length|max_length)=(-?\d+(?:\.\d+)?)")
_FIELD_LINE = re.compile(r"^\s+(\w+)\s*:.*Field\(")
_STATUS = re.compile(r"status\.HTTP_(\d{3})_[A-Z_]+|status_code=(\d{3})\b")
_REPLACEMENT = {"200": ("201", "status.HTTP_201_CREATED")}
_STRICTER = {"ge": 1, "gt": 1, "min_length": 1, "le": -1, "lt": -1, "max_length": -1}


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    source: str


def mutants(
    bundle: FileBundle, feature: str, fields: set[str], limit: int = MAX_MUTANTS
) -> list[Mutant]:
    """The feature's mutants, round-robin over the bounds of the request's `fields`, status
    codes and routes."""
    layout = FeatureLayout(feature)
    bounds: list[Mutant] = []
    statuses: list[Mutant] = []
    routes: list[Mutant] = []
    for file in bundle.files:
        if not file.path.startswith(layout.src_dir + "/"):
            continue
        bounds += _bound_mutants(file.path, file.content, fields)
        statuses += _status_mutants(file.path, file.content)
        routes += _route_mutants(file.path, file.content)
    chosen = [m for group in zip_longest(bounds, statuses, routes) for m in group if m]
    return chosen[:limit]


def gate(
    worktree: Path, scratch: Path, feature: str, chosen: list[Mutant], box: Box, minimum: float
) -> GateOutcome:
    """Run every mutant in the box, a few at once, and score the tests against them."""
    if not chosen:
        return GateOutcome(gate="mutation", figures={"mutants": 0, "score": 1.0})
    tests_dir = FeatureLayout(feature).tests_dir

    def run(index: int, mutant: Mutant) -> bool:
        folder = scratch / f"mutant-{index}"
        # A tmpfs of its own where the machine allows (agent.box.sized): a mutant's run that
        # fills it cannot fill the host's disk, nor starve the copies of the runs beside it.
        with bounded(folder, sandboxed=box.sandboxed):
            tree = copy_tree(worktree, folder)
            # Applied at import by the box's gate: the file keeps its bytes (a test that pins
            # the source text cannot tell a mutant from the feature).
            args = ["-m", "pytest", tests_dir, "-x", "-q", "-p", "no:cacheprovider", *REPORTING]
            result = box.run(
                tree,
                folder,
                [*args, f"--rootdir={tree}"],
                stop_on_failure=True,
                gate={"mutant": {"path": mutant.path, "source": mutant.source}},
            )
        if result.overrun is not None and result.overrun.infrastructure:
            # The machine, not the mutant, ended it: neither killed nor survived (retried).
            raise overrun_error(result.overrun, "verified", "a mutant's run")
        return killed_by(result)

    with ThreadPoolExecutor(max_workers=4) as pool:
        killed = list(pool.map(run, range(len(chosen)), chosen))
    survivors = [m.name for m, dead in zip(chosen, killed, strict=True) if not dead]
    score = round(sum(killed) / len(chosen), 4)
    reasons = (
        [
            f"mutation score {score:.2f} is below {minimum:.2f}: the tests still pass with "
            + "; ".join(survivors)
        ]
        if score < minimum
        else []
    )
    return GateOutcome(
        gate="mutation",
        ok=not reasons,
        reasons=reasons,
        figures={
            "mutants": len(chosen),
            "killed": sum(killed),
            "score": score,
            "survivors": "; ".join(survivors),
        },
    )


def killed_by(result: BoxRun) -> bool:
    """A mutant is killed by a verified failing test (or a run it made hang), never by an exit
    status or a stream that does not stand: those only say that something ran."""
    if result.timed_out:
        return True
    return not result.breaches and result.session.failed > 0


def _bound_mutants(path: str, source: str, fields: set[str]) -> list[Mutant]:
    lines = source.splitlines(keepends=True)
    found: dict[tuple[str, str], list[int]] = {}
    for number, line in enumerate(lines):
        match = _FIELD_LINE.match(line)
        if match and match[1] in fields:
            for bound in _BOUND.finditer(line):
                found.setdefault((match[1], bound[1]), []).append(number)
    result = []
    for (field, rule), numbers in found.items():
        stricter, removed = list(lines), list(lines)
        for number in numbers:
            stricter[number] = _BOUND.sub(partial(_shift, rule=rule), stricter[number])
            removed[number] = re.sub(rf"\b{rule}=-?\d+(?:\.\d+)?(,\s*)?", "", removed[number])
        result.append(Mutant(f"{field}.{rule} off by one in {path}", path, "".join(stricter)))
        result.append(Mutant(f"{field}.{rule} removed in {path}", path, "".join(removed)))
    return result


def _shift(match: re.Match[str], rule: str) -> str:
    if match[1] != rule:
        return match[0]
    value = match[2]
    step = _STRICTER[match[1]]
    shifted = int(value) + step if value.lstrip("-").isdigit() else float(value) + step
    return f"{match[1]}={shifted}"


#: Codes a feature answers for what only other features cause (409: a row another feature's
#: `ref` field still names); its own tests cannot reach them, so they are not mutated.
_OTHERS_CAUSE = frozenset({"409"})


def _status_mutants(path: str, source: str) -> list[Mutant]:
    codes = sorted({m[1] or m[2] for m in _STATUS.finditer(source)} - _OTHERS_CAUSE)
    result = []
    for code in codes:
        number, constant = _REPLACEMENT.get(code, ("200", "status.HTTP_200_OK"))

        def swap(
            m: re.Match[str], code: str = code, number: str = number, c: str = constant
        ) -> str:
            if (m[1] or m[2]) != code:
                return m[0]
            return c if m[1] else f"status_code={number}"

        result.append(
            Mutant(f"status {code} → {number} in {path}", path, _STATUS.sub(swap, source))
        )
    return result


def _route_mutants(path: str, source: str) -> list[Mutant]:
    try:
        tree = parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines(keepends=True)
    result = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            text = ast.unparse(decorator.func if isinstance(decorator, ast.Call) else decorator)
            if text.startswith("router.") and text.split(".")[-1] in (
                "get",
                "post",
                "put",
                "patch",
                "delete",
                "api_route",
            ):
                start, end = decorator.lineno - 1, decorator.end_lineno or decorator.lineno
                kept = lines[:start] + lines[end:]
                result.append(Mutant(f"route {node.name} removed in {path}", path, "".join(kept)))
    return result
