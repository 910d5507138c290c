"""What a GitHub delivery starts: a build through the service's job backend, then the forge's side.

An issue becomes a build, one progress comment edited in place (queued → generating → tested →
PR opened, or failed), a pull request that closes the issue, and a `petsage/build` check run on
the pushed commit. A `/petsage <instruction>` on the pull request becomes a rebuild of its feature
as a new commit on the same branch, and a reply linking it. Each delivery runs in its own
background thread; only users with write access to the repository start anything. A base
that moved (a push, a merged PR) becomes a job that refreshes the builder's PRs on it
(`agent.github.follow`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.chat.refine import apply_instruction
from agent.errors import BuilderError, InstructionError, RequestError
from agent.github.events import (
    EXAMPLE_REQUEST,
    MARKER,
    BaseMoved,
    IssueBuild,
    PullCommand,
    Trigger,
)
from agent.github.follow import BaseFollower
from agent.github.host import BuildHost
from agent.pipeline.loop import target_repo
from agent.pipeline.result import BuildResult, PullRequest
from agent.repo.forge import GitHub
from agent.request import FeatureRequest, decode_request
from agent.review.pulls import open_pull_request

log = logging.getLogger("petsage.github")
WRITERS = frozenset({"admin", "maintain", "write"})
STEPS = ("queued", "generating", "tested", "PR opened")
_DESCRIPTION = re.compile(r"^\W*description\W*:", re.I | re.M)
_CLOSES = re.compile(r"\bCloses #(\d+)\b")


class GitHubBuilds:
    """Carries out verified deliveries for one running service."""

    def __init__(self, service: BuildHost) -> None:
        self.service = service
        self.settings = service.settings
        self._permissions: dict[str, tuple[str, float]] = {}
        self._refused: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._follower: BaseFollower | None = None

    def start(self, trigger: Trigger) -> None:
        """Carry out `trigger` in the background; the delivery is answered at once."""
        if isinstance(trigger, BaseMoved):
            self.follower().submit(trigger)
            return
        threading.Thread(
            target=self._handle, args=(trigger,), name="github-delivery", daemon=True
        ).start()

    def follower(self) -> BaseFollower:
        """The job backend that refreshes PRs behind a moved base (started on first use)."""
        with self._lock:
            if self._follower is None:
                # A repository handle of its own: its jobs run beside the delivery threads.
                self._follower = BaseFollower(
                    self.settings, target_repo(self.settings), self.service.store
                )
            return self._follower

    def close(self) -> None:
        """Stop the refresh jobs (the service is stopping)."""
        with self._lock:
            follower, self._follower = self._follower, None
        if follower is not None:
            follower.close()

    def permission(self, github: GitHub, user: str) -> str:
        """`user`'s permission on the repository, cached for PETSAGE_PERMISSION_CACHE_SECONDS."""
        now = time.monotonic()
        with self._lock:
            cached = self._permissions.get(user)
        if cached is not None and cached[1] > now:
            return cached[0]
        level = github.permission(user)
        with self._lock:
            self._permissions[user] = (level, now + self.settings.permission_cache_seconds)
        return level

    # --- the two flows ---------------------------------------------------------------------------

    def _handle(self, trigger: IssueBuild | PullCommand) -> None:
        try:
            with GitHub(self.settings) as github:
                if not self._may_trigger(github, trigger):
                    return
                if isinstance(trigger, IssueBuild):
                    self._build_issue(github, trigger)
                else:
                    self._apply_command(github, trigger)
        except BuilderError as e:
            log.error("GitHub delivery %s: %s", trigger, e)

    def _may_trigger(self, github: GitHub, trigger: IssueBuild | PullCommand) -> bool:
        if self.permission(github, trigger.user) in WRITERS:
            return True
        number = trigger.issue if isinstance(trigger, IssueBuild) else trigger.pull
        with self._lock:
            first = (trigger.user, number) not in self._refused
            self._refused.add((trigger.user, number))
        if first:
            github.comment(
                number,
                f"Thanks, @{trigger.user}! Only collaborators with write access to this "
                f"repository can start PetSage builds, so nothing was built.\n\n{MARKER}",
            )
        return False

    def _build_issue(self, github: GitHub, trigger: IssueBuild) -> None:
        try:
            request = request_from_issue(trigger.title, trigger.body)
        except RequestError as e:
            github.comment(trigger.issue, unreadable(e))
            return
        build_id = self._store(request)
        progress = Progress(github, trigger.issue, build_id, request.feature)
        result = self._run(build_id, progress.stage)
        if result is None:
            return
        if result.status != "succeeded":
            progress.failed(result.reasons, _failing_output(result))
            return
        try:
            pull = self._open_pull(result, f"\n\nCloses #{trigger.issue}")
        except BuilderError as e:
            progress.failed([f"the build succeeded but the pull request failed: {e}"], "")
            return
        progress.reach("PR opened", pull.url or f"#{pull.id}")
        _check_run(github, result)

    def _apply_command(self, github: GitHub, trigger: PullCommand) -> None:
        pull = github.pull(trigger.pull)
        branch = str(pull["head"]["ref"])
        last = self._last_request(branch)
        if last is None:
            github.comment(
                trigger.pull, f"No PetSage build of `{branch}` is known here.\n\n{MARKER}"
            )
            return
        refined = refine(last, trigger.instruction)
        if isinstance(refined, str):
            github.comment(trigger.pull, f"{refined}\n\n{MARKER}")
            return
        if refined.branch != branch:
            github.comment(
                trigger.pull,
                f"That would build `{refined.branch}`, not this pull request's `{branch}`; "
                f"nothing was built.\n\n{MARKER}",
            )
            return
        build_id = self._store(refined)
        result = self._run(build_id, lambda stage, ok: None)
        if result is None:
            return
        if result.status != "succeeded":
            reasons = "\n".join(f"- {reason}" for reason in result.reasons[:10])
            github.comment(
                trigger.pull,
                f"Build `{build_id}` failed, so `{branch}` is as it was:\n\n{reasons}\n\n{MARKER}",
            )
            return
        closes = _CLOSES.search(str(pull.get("body") or ""))
        footer = f"\n\nCloses #{closes[1]}" if closes else ""
        self._open_pull(result, footer)
        commit = result.commit or ""
        github.comment(
            trigger.pull,
            f"Pushed [{commit[:12]}]({github.commit_url(commit)}) to `{branch}` "
            f"(build `{build_id}`): {trigger.instruction}\n\n{MARKER}",
        )
        _check_run(github, result)

    # --- the service's side ----------------------------------------------------------------------

    def _store(self, request: FeatureRequest) -> str:
        """Store a queued build and hand it to the job backend, as every route does; its id.
        A refused build has already ended, saying why: following it finds its end."""
        return self.service.start_build(request).record.id

    def _run(self, build_id: str, on_stage: Callable[[str, bool], None]) -> BuildResult | None:
        """Follow a build's stored events to its end; its result (None if the service stops)."""
        after = 0
        while not self.service.jobs.stopping:
            for seq, body in self.service.store.events(build_id, after):
                after = seq
                on_stage(str(body["stage"]), bool(body.get("ok", True)))
                if body["stage"] in ("done", "failed"):
                    record = self.service.store.get(build_id)
                    return record.result if record is not None else None
            time.sleep(0.2)
        return None

    def _open_pull(self, result: BuildResult, footer: str) -> PullRequest:
        self.service.runner.sync_mirror(result.commit)
        pull = open_pull_request(result, self.settings, self.service.runner.repo, footer=footer)
        stored = result.model_copy(update={"pull_request": pull, "pr_error": None})
        self.service.store.finish(stored)
        return pull

    def _last_request(self, branch: str) -> FeatureRequest | None:
        """The request of the newest succeeded build of `branch`."""
        feature = branch.rsplit("/", 1)[-1]
        records, _ = self.service.store.page(status="succeeded", feature=feature, limit=20)
        for record in records:
            if record.request.branch == branch:
                return record.request
        return None


class Progress:
    """The one comment on an issue that shows a build's progress, edited in place."""

    def __init__(self, github: GitHub, issue: int, build_id: str, feature: str) -> None:
        self.github = github
        self.heading = f"**PetSage Builder** · build `{build_id}` of `{feature}`"
        self.reached = 0
        self.comment_id = int(github.comment(issue, self._render())["id"])

    def stage(self, stage: str, ok: bool) -> None:
        if stage == "generating" and self.reached < 1:
            self.reach("generating")
        elif stage == "tested" and ok and self.reached < 2:
            self.reach("tested")

    def reach(self, step: str, detail: str = "") -> None:
        self.reached = STEPS.index(step)
        self.github.edit_comment(self.comment_id, self._render(detail))

    def failed(self, reasons: list[str], output: str) -> None:
        lines = [self.heading, "", "❌ **failed**", "", *(f"- {r}" for r in reasons[:15])]
        if output:
            lines += ["", "<details><summary>Failing tests</summary>", "", "```", output, "```"]
            lines += ["</details>"]
        self.github.edit_comment(self.comment_id, "\n".join([*lines, "", MARKER]))

    def _render(self, detail: str = "") -> str:
        lines = [self.heading, ""]
        for index, step in enumerate(STEPS):
            mark = "✅" if index <= self.reached else "⏳"
            suffix = f": {detail}" if detail and index == self.reached else ""
            lines.append(f"- {mark} {step}{suffix}")
        return "\n".join([*lines, "", MARKER])


# --- reading requests and instructions -----------------------------------------------------------


def request_from_issue(title: str, body: str) -> FeatureRequest:
    """The issue's request in any BLUEPRINT §1 encoding; the title describes it if need be."""
    text = body.strip()
    try:
        request = decode_request(text)
    except RequestError as e:
        if not title.strip() or not any(p.where == "description" for p in e.problems):
            raise
        request = decode_request(_described(text, title.strip()))
    return request.model_copy(update={"open_pr": False})


def _described(text: str, title: str) -> str | dict[str, Any]:
    """`text` with `title` as its description, in its own encoding."""
    if text.startswith("{"):
        data = json.loads(text)
        return {**data, "description": title} if isinstance(data, dict) else text
    if _DESCRIPTION.search(text):
        return text
    return f"{text}\n\n- **Description:** {title}"


def refine(request: FeatureRequest, instruction: str) -> FeatureRequest | str:
    """The request after the chat's refinement `instruction`, or the chat's answer why not."""
    if instruction.strip().lower().rstrip(".!") in ("rebuild", "build"):
        return request
    try:
        change = apply_instruction(request, instruction)
    except InstructionError as e:
        return f"I could not make that change: {e}"
    if change is None:
        return (
            "I did not understand that. Try `/petsage add field weight_kg: float >=0`, "
            "`/petsage remove field nickname` or `/petsage rebuild`."
        )
    return change.request.model_copy(update={"open_pr": False})


def unreadable(error: RequestError) -> str:
    """The comment for an issue whose body is not a request: which field, why, and the form."""
    problems = "\n".join(f"- `{p.where or 'body'}`: {p.reason}" for p in error.problems)
    return (
        "I could not read this issue as a feature request:\n\n"
        f"{problems}\n\n"
        "Write the body in this form (or as a JSON object), then label the issue again or "
        f"comment `/petsage build`:\n\n```markdown\n{EXAMPLE_REQUEST}\n```\n\n{MARKER}"
    )


def check_summary(result: BuildResult) -> tuple[str, str]:
    """The check run's title and summary: tests, files, model, rounds, tokens and cost."""
    tests = result.tests
    title = f"{result.status}: {tests.passed} passed, {tests.failed} failed"
    cost = f"${result.cost_usd:.4f}" if result.cost_usd is not None else "not priced"
    lines = [
        f"Build `{result.id}` of `{result.feature}`: **{result.status}**",
        "",
        f"**Tests:** {tests.passed} passed, {tests.failed} failed, {tests.skipped} skipped "
        f"({tests.feature_tests} of the feature, {tests.seconds:.1f} s)",
        "",
        "**Files**",
        *(f"- `{path}`" for path in result.files),
        "",
        f"**Model:** `{result.model}`, {len(result.rounds)} round(s), "
        f"{result.prompt_tokens} prompt + {result.completion_tokens} completion tokens, {cost}",
    ]
    if result.notes:
        lines += ["", "**Notes**", *(f"- {note}" for note in result.notes)]
    return title, "\n".join(lines)


def _check_run(github: GitHub, result: BuildResult) -> None:
    if not result.commit:
        return
    title, summary = check_summary(result)
    conclusion = "success" if result.status == "succeeded" else "failure"
    try:
        github.check_run(result.commit, conclusion, title, summary)
    except BuilderError as e:
        # A plain token may not create check runs (a GitHub App's may); the build stands.
        log.warning("no check run for %s: %s", result.commit[:12], e)


def _failing_output(result: BuildResult) -> str:
    output = result.attempt.test_output if result.attempt is not None else ""
    return "\n".join(output.strip().splitlines()[-40:]).replace("```", "'''")


__all__ = ["GitHubBuilds", "check_summary", "refine", "request_from_issue"]
