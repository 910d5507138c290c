"""`petsage-builder build`: one build from the command line, its progress and its result.

The test process starts first (agent.box.prestart), then the model's SDK in a thread
(agent.models.preload), and only then the builder itself loads.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agent.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    MARKS,
    read_payload,
    settings_from,
)
from agent.events import Checked
from agent.quoting import strip_controls

if TYPE_CHECKING:
    from agent.box.run import TestRun
    from agent.events import StageEvent
    from agent.pipeline.loop import Builder
    from agent.pipeline.result import BuildResult
    from agent.request import FeatureRequest
    from agent.settings import Settings


def run_build(args: argparse.Namespace) -> int:
    """`petsage-builder build`: 0 when the build succeeded, 1 when it failed, 2 on bad input."""
    raw = read_payload(args.payload)
    # The builder uses no pydantic plugin: none is looked for among the installed packages
    # (a scan of every distribution's entry points); an explicit setting is kept.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # The test process starts first, and loads while the builder does (agent.box.prestart):
    # nothing heavier than the standard library is imported before it has started.
    from agent.box.prestart import prestart
    from agent.setting_sources import configured_values

    values = configured_values()  # raw, read once for both; Settings validates them later
    held = prestart(args.workspace, values)
    # Then the model's SDK, if it needs one, in a thread (agent.models.preload).
    from agent.models.preload import preload_sdk

    preloading = preload_sdk(args.model or values.get("model", "offline"))
    try:
        return _build_held(args, raw, held)
    finally:
        if held is not None:
            held.close()
        if preloading is not None:
            preloading.join(timeout=30)  # never end the interpreter in the middle of an import


def _build_held(args: argparse.Namespace, raw: bytes, held: TestRun | None) -> int:
    settings = settings_from(args)

    from agent.errors import ConfigError, RequestError, StateLocked
    from agent.pipeline.loop import Builder
    from agent.request import decode_request
    from agent.store import statelock

    try:
        builder = Builder(settings)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        decode_request(raw, max_bytes=settings.max_request_bytes)
    except RequestError:
        # Rejected before it touches anything: no lock, no state folder.
        return _build_with(builder, args, raw, settings, held)
    try:
        # Shared: CLI builds run side by side, but never beside a service on the same state.
        with statelock.holding(
            settings.resolved_state_dir(), role="petsage-builder build", shared=True
        ):
            return _build_with(builder, args, raw, settings, held)
    except StateLocked as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _build_with(
    builder: Builder,
    args: argparse.Namespace,
    raw: bytes,
    settings: Settings,
    held: TestRun | None = None,
) -> int:
    from agent.redact import redact

    started = time.perf_counter()
    if not args.quiet:
        print(
            f"petsage-builder: model {builder.model.name}, workspace {builder.repo.path}",
            file=sys.stderr,
        )

    def show(event: StageEvent) -> None:
        if args.quiet:
            return
        mark = MARKS[event.ok]
        round_note = f" [round {event.round}]" if event.round else ""
        print(
            f"{time.perf_counter() - started:7.2f}s {mark} {event.stage:<10}{round_note} "
            f"{strip_controls(redact(event.message))}",
            file=sys.stderr,
        )
        reasons = event.reasons if isinstance(event, Checked) else None
        for reason in (reasons or [])[:10]:
            print(f"{'':20}- {strip_controls(redact(str(reason)))}", file=sys.stderr)

    request: bytes | FeatureRequest = raw
    if args.open_pr:
        from agent.errors import RequestError
        from agent.request import decode_request

        # A bad request is reported by the build itself, as without the flag.
        with contextlib.suppress(RequestError):
            decoded = decode_request(raw, max_bytes=settings.max_request_bytes)
            request = decoded.model_copy(update={"open_pr": True})
    result = builder.run(request, on_event=show, held_tests=held)
    if result.status != "rejected":
        _save_record(builder.repo.state_dir, result)
    if args.json:
        print(redact(result.model_dump_json(indent=2)))
    else:
        print(strip_controls(redact(result.report)))
    if result.status == "rejected":
        for reason in result.reasons:
            print(f"error: {strip_controls(redact(reason))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


def _save_record(state_dir: Path, result: BuildResult) -> None:
    """Keep the build record (attempt included) in the builder's state, outside the target."""
    folder = state_dir / "builds"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{result.id}.json").write_text(result.model_dump_json(indent=2))
