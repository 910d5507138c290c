"""`petsage-builder pr list` and `pr refresh`: local pull requests against their base.

`list` shows each PR's state against its base (up to date, behind, needs rebuild); `refresh ID`
or `refresh --all` replays PRs that are behind onto their base (`agent.review.refresh`). A refresh
the builder refuses (a person's edit, a conflict in the feature's own files, a failing suite)
exits 1 and says why; one that was not needed is no error. One whose suite run the machine
starved (twice, `infrastructure`) is not refused: nothing changed, and it exits 3 unless another
was refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from agent.cli.common import EXIT_BAD_INPUT, EXIT_BUSY, EXIT_FAILED, EXIT_OK
from agent.quoting import strip_controls

if TYPE_CHECKING:
    from agent.pipeline.result import PullRequest
    from agent.review.pulls import LocalPulls
    from agent.settings import Settings

#: How `pr list` words each state.
SYNC_WORDS = {"up_to_date": "up to date", "behind": "behind", "needs_rebuild": "needs rebuild"}


def list_pulls(args: argparse.Namespace, pulls: LocalPulls) -> int:
    """Every local PR, with its state against its base."""
    from agent.review.refresh import with_sync

    found = [with_sync(pulls.repo, pull) for pull in pulls.all()]
    if args.json:
        print(json.dumps([p.model_dump(mode="json", exclude={"body", "diff"}) for p in found]))
        return EXIT_OK
    for pull in found:
        print(strip_controls(line(pull)))
        if pull.sync == "needs_rebuild" and pull.needs_rebuild:
            print(strip_controls(f"          why: {pull.needs_rebuild}"))
    return EXIT_OK


def line(pull: PullRequest) -> str:
    """One PR on one line: id, state, where it stands against its base, branches, title."""
    sync = SYNC_WORDS.get(pull.sync or "", "-")
    return f"{pull.id}  {pull.state:<7} {sync:<13} {pull.branch} -> {pull.base}  {pull.title}"


def refresh(args: argparse.Namespace, pulls: LocalPulls, settings: Settings) -> int:
    """`pr refresh ID` or `pr refresh --all`: replay PRs that are behind onto their base."""
    from agent.errors import BuilderError, InfrastructureError
    from agent.review.refresh import refresh_pull, sync_of

    if bool(args.id) == bool(args.all):
        print("error: pr refresh takes a pull request id or --all, not both", file=sys.stderr)
        return EXIT_BAD_INPUT
    chosen = (
        [p.id for p in pulls.all() if sync_of(pulls.repo, p) == "behind"] if args.all else [args.id]
    )
    code, outcomes = EXIT_OK, []
    for pull_id in chosen:
        try:
            done = refresh_pull(pulls, pull_id, settings)
            outcomes.append({"id": pull_id, "refreshed": done.moved, "note": done.note})
        except InfrastructureError as e:
            code = EXIT_BUSY if code == EXIT_OK else code
            outcomes.append({"id": pull_id, "refreshed": False, "error": str(e), "retry": True})
        except BuilderError as e:
            code = EXIT_FAILED
            outcomes.append({"id": pull_id, "refreshed": False, "error": str(e)})
    if args.json:
        print(json.dumps(outcomes))
    for outcome in [] if args.json else outcomes:
        if "error" in outcome:
            print(strip_controls(f"error: {outcome['id']}: {outcome['error']}"), file=sys.stderr)
        else:
            print(strip_controls(f"{outcome['id']}  {outcome['note']}"))
    if not chosen and not args.json:
        print("no open pull request is behind its base")
    return code
