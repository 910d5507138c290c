"""A reply's file bundle, parsed and checked: the files a round writes, or why it may not."""

from __future__ import annotations

from agent.bundle import FileBundle, parse_reply
from agent.errors import BundleError
from agent.models import ModelReply
from agent.pipeline.checks import check_bundle
from agent.pipeline.result import AttemptFile
from agent.pipeline.round import Base, Rejection
from agent.pipeline.state import BuildState

NO_SCAN_NOTE = (
    "the static scan of generated code was OFF (PETSAGE_STATIC_SCAN=false): only the sandbox "
    "stood between it and the host"
)


def _files_of(bundle: FileBundle) -> list[AttemptFile]:
    return [AttemptFile(path=f.path, content=f.content) for f in bundle.files]


class Validate:
    """Parses and checks a reply; a bundle that passes sets the result's summary and notes."""

    def __init__(self, state: BuildState) -> None:
        self._state = state

    def run(self, reply: ModelReply, feature: str, base: Base) -> FileBundle | Rejection:
        """The reply's bundle, checked (the attempt keeps the files that were checked)."""
        if reply.finish_reason == "length":
            reasons = ["the reply was cut off at the token limit before it ended"]
            return Rejection("length", reasons, reasons[0])
        state = self._state
        with state.timed("validate"):
            try:
                bundle = reply.bundle or parse_reply(reply.text, feature)
                state.attempt.files = _files_of(bundle)
                bundle = check_bundle(bundle, feature, scan=state.settings.static_scan)
            except BundleError as e:
                reasons = [str(p) for p in e.problems]
                return Rejection("validation", reasons, f"{len(reasons)} problem(s)")
            # Completed with its packages: these are the files written.
            state.attempt.files = _files_of(bundle)
        self._note(bundle, base)
        return bundle

    def _note(self, bundle: FileBundle, base: Base) -> None:
        result = self._state.result
        result.summary = bundle.summary
        result.notes = list(bundle.notes)
        if base.test_env_note:
            result.notes.append(base.test_env_note)
        if not self._state.settings.static_scan:
            result.notes.append(NO_SCAN_NOTE)
