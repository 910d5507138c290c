"""Gate 3: the contract diff. The OpenAPI document of the base app against the built app's.

New paths must lie under `/api/v1/<kebab>`; no existing path, method, status code or schema may
change unless the request rebuilds that same feature (then only its own paths and schemas may).
"""

from __future__ import annotations

import json
from typing import Any

from agent.layout import FeatureLayout
from agent.pipeline.verify.outcome import ContractDiff, GateOutcome, OperationChange

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: The key under which the probe's listing of the app's own routes and middleware rides along
#: with its document (set by the builder from the probe's record, never read from the app's).
SERVED = "x-petsage-served"


def diff(base: dict[str, Any], built: dict[str, Any]) -> ContractDiff:
    """Added, removed and changed operations and schemas, base → built."""
    before, after = _operations(base), _operations(built)
    result = ContractDiff()
    for key in sorted(after.keys() - before.keys()):
        result.added.append(OperationChange(method=key[0], path=key[1]))
    for key in sorted(before.keys() - after.keys()):
        result.removed.append(OperationChange(method=key[0], path=key[1]))
    for key in sorted(before.keys() & after.keys()):
        if before[key] != after[key]:
            result.changed.append(
                OperationChange(
                    method=key[0], path=key[1], detail=_what_changed(before[key], after[key])
                )
            )
    old, new = _schemas(base), _schemas(built)
    result.schemas_added = sorted(new.keys() - old.keys())
    result.schemas_removed = sorted(old.keys() - new.keys())
    result.schemas_changed = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    result.unlisted = _unlisted(base.get(SERVED), built.get(SERVED))
    return result


def _unlisted(base: Any, built: Any) -> list[str]:
    """Routes the built app serves but hides from its document (new since the base), and any
    change to its middleware. Nothing to compare when either listing is missing from the base
    (an older probe); a built app without one is refused."""
    if not isinstance(base, dict):
        return []
    if not isinstance(built, dict) or not isinstance(built.get("routes"), list):
        return ["the built app's route table could not be listed"]

    def keyed(served: dict[str, Any]) -> set[tuple[str, str, str, bool]]:
        return {
            (
                str(r.get("kind")),
                str(r.get("path")),
                ",".join(r.get("methods") or []),
                bool(r.get("schema")),
            )
            for r in served.get("routes") or []
            if isinstance(r, dict)
        }

    found = [
        f"{kind} {methods or '*'} {path} is served but not in the OpenAPI document"
        for kind, path, methods, schema in sorted(keyed(built) - keyed(base))
        if not schema or kind != "APIRoute"
    ]
    if built.get("middleware") != base.get("middleware"):
        found.append("the app's middleware changed: a feature adds only routes")
    return found


def gate(contract: ContractDiff, feature: str, *, rebuild: bool) -> GateOutcome:
    """The rules of the diff for one feature's build."""
    layout = FeatureLayout(feature)
    ours = _under(layout.url)
    reasons = [
        f"{c.method.upper()} {c.path} is a new path outside the feature's prefix {layout.url}"
        for c in contract.added
        if not ours(c.path)
    ]
    for label, changes in (("removed", contract.removed), ("changed", contract.changed)):
        for c in changes:
            if not (rebuild and ours(c.path)):
                detail = f" ({c.detail})" if c.detail else ""
                reasons.append(
                    f"{c.method.upper()} {c.path} existed on the base branch "
                    f"and was {label}{detail}"
                )
    reasons += contract.unlisted
    own_schema = layout.class_prefix
    for label, names in (
        ("removed", contract.schemas_removed),
        ("changed", contract.schemas_changed),
    ):
        for name in names:
            if not (rebuild and name.startswith(own_schema)):
                reasons.append(f"schema {name} existed on the base branch and was {label}")
    return GateOutcome(
        gate="contract",
        ok=not reasons,
        reasons=reasons,
        figures={
            "added": len(contract.added),
            "removed": len(contract.removed),
            "changed": len(contract.changed),
            "schemas_added": len(contract.schemas_added),
            "schemas_changed": len(contract.schemas_changed) + len(contract.schemas_removed),
        },
    )


def render(contract: ContractDiff) -> list[str]:
    """The diff as Markdown lines, for the report and the PR body."""
    lines = [f"+ {c.method.upper()} {c.path}" for c in contract.added]
    lines += [f"- {c.method.upper()} {c.path}" for c in contract.removed]
    lines += [f"~ {c.method.upper()} {c.path}: {c.detail}" for c in contract.changed]
    lines += [f"+ schema {n}" for n in contract.schemas_added]
    lines += [f"- schema {n}" for n in contract.schemas_removed]
    lines += [f"~ schema {n}" for n in contract.schemas_changed]
    lines += [f"! {n}" for n in contract.unlisted]
    return lines or ["(no change to the API)"]


def load(text: str) -> dict[str, Any]:
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("the OpenAPI document is not an object")
    return document


def _under(url: str) -> Any:
    return lambda path: path == url or path.startswith(url + "/")


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], Any]:
    operations: dict[tuple[str, str], Any] = {}
    for path, item in (document.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if method in _METHODS:
                operations[(method, path)] = operation
    return operations


def _schemas(document: dict[str, Any]) -> dict[str, Any]:
    return dict((document.get("components") or {}).get("schemas") or {})


def _what_changed(before: dict[str, Any], after: dict[str, Any]) -> str:
    old = set((before.get("responses") or {}).keys())
    new = set((after.get("responses") or {}).keys())
    parts = []
    if old - new:
        parts.append("status " + ", ".join(sorted(old - new)) + " removed")
    if new - old:
        parts.append("status " + ", ".join(sorted(new - old)) + " added")
    if not parts:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        parts.append("changed " + ", ".join(changed))
    return "; ".join(parts)
