"""GitHub's REST API for one repository: retries, typed errors, and the token never shown.

`send` retries what a later try can fix (5xx, 429, secondary rate limits, a dropped
connection), waiting as long as `Retry-After` (or the rate-limit reset) says, capped.
`GitHub` maps what is left to the `ForgeError` family and takes the token out of every message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from agent.errors import ForgeAuthError, ForgeError, ForgeNotFound, ForgeUnavailable
from agent.settings import Settings

#: The longest wait between two tries, whatever the forge asks for.
MAX_WAIT_SECONDS = 60.0
RETRIES = 3
CHECK_NAME = "petsage/build"


def send(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    retries: int = RETRIES,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> httpx.Response:
    """One REST call, tried again on 5xx, 429, secondary rate limits and transport errors."""
    for attempt in range(retries + 1):
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError as e:
            if attempt == retries:
                raise ForgeUnavailable(
                    f"cannot reach the forge at {client.base_url}: {type(e).__name__}"
                ) from e
            sleep(min(2.0**attempt, MAX_WAIT_SECONDS))
            continue
        wait = _retry_after(response, attempt)
        if wait is None or attempt == retries:
            return response
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def forge_client(settings: Settings) -> httpx.Client:
    """An HTTP client for the forge's REST API, with the token in its one header."""
    return httpx.Client(
        base_url=settings.forge_api_url.rstrip("/"),
        headers={
            "Authorization": f"Bearer {settings.forge_secret}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
        timeout=30,
    )


class GitHub:
    """The REST calls the webhook flow makes, on `settings.forge_repo`, with its token."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.forge_repo or not settings.forge_secret:
            raise ForgeAuthError(
                "set PETSAGE_FORGE_REPO (owner/name) and PETSAGE_FORGE_TOKEN (or GITHUB_TOKEN)"
            )
        self.repo = settings.forge_repo
        self.web_url = _web_url(settings.forge_api_url, self.repo)
        self._token = settings.forge_secret
        self._sleep = sleep
        self._client = forge_client(settings)

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """`path` below `/repos/{owner}/{name}`; the JSON answer, or a typed `ForgeError`."""
        full = f"/repos/{self.repo}{path}"
        try:
            response = send(self._client, method, full, sleep=self._sleep, **kwargs)
        except ForgeError as e:
            raise type(e)(self._scrub(str(e)), e.status) from None
        status = response.status_code
        if status < 400:
            return response.json() if response.content else None
        message = self._scrub(
            f"{method} {full}: the forge answered {status}: {error_message(response)}"
        )
        if status == 401 or (status == 403 and not _rate_limited(response)):
            raise ForgeAuthError(
                f"{message} (check PETSAGE_FORGE_TOKEN: it needs issues, pull requests, "
                "contents and checks on the repository)",
                status,
            )
        if status == 404:
            raise ForgeNotFound(message, status)
        if status >= 500 or status in (403, 429):
            raise ForgeUnavailable(message, status)
        raise ForgeError(message, status)

    # --- the calls -------------------------------------------------------------------------------

    def permission(self, user: str) -> str:
        """`admin`, `maintain`, `write`, `triage`, `read` or `none` (not a collaborator)."""
        try:
            data = self.call("GET", f"/collaborators/{user}/permission")
        except ForgeNotFound:
            return "none"
        role = str(data.get("role_name") or "")
        return role if role in ("maintain", "triage") else str(data.get("permission") or "none")

    def comment(self, issue: int, body: str) -> dict[str, Any]:
        created: dict[str, Any] = self.call(
            "POST", f"/issues/{issue}/comments", json={"body": body}
        )
        return created

    def edit_comment(self, comment_id: int, body: str) -> None:
        self.call("PATCH", f"/issues/comments/{comment_id}", json={"body": body})

    def pull(self, number: int) -> dict[str, Any]:
        pull: dict[str, Any] = self.call("GET", f"/pulls/{number}")
        return pull

    def open_pulls(self, base: str) -> list[dict[str, Any]]:
        """The open pull requests into `base` (the first 100, oldest first)."""
        params = {"state": "open", "base": base, "per_page": "100", "direction": "asc"}
        found: list[dict[str, Any]] = self.call("GET", "/pulls", params=params) or []
        return found

    def approvals(self, number: int) -> dict[str, str]:
        """Who approves pull request `number` now (their latest review), login → commit."""
        reviews = self.call("GET", f"/pulls/{number}/reviews", params={"per_page": "100"}) or []
        return {
            str(review["user"]["login"]): str(review.get("commit_id") or "")
            for review in standing_approvals(reviews)
        }

    def check_run(self, head_sha: str, conclusion: str, title: str, summary: str) -> None:
        self.call(
            "POST",
            "/check-runs",
            json={
                "name": CHECK_NAME,
                "head_sha": head_sha,
                "status": "completed",
                "conclusion": conclusion,
                "output": {"title": title[:250], "summary": summary[:60000]},
            },
        )

    def commit_url(self, sha: str) -> str:
        return f"{self.web_url}/commit/{sha}"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


# --- helpers -------------------------------------------------------------------------------------


def standing_approvals(reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The approvals that stand: each reviewer's latest verdict, where it is an approval."""
    latest: dict[str, dict[str, Any]] = {}
    for review in reviews:
        login = (review.get("user") or {}).get("login")
        if login and review.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[str(login)] = review
    return [review for review in latest.values() if review.get("state") == "APPROVED"]


def _retry_after(response: httpx.Response, attempt: int) -> float | None:
    """Seconds to wait before another try, or None when another try would not help."""
    status = response.status_code
    if status < 500 and status != 429 and not (status == 403 and _rate_limited(response)):
        return None
    header = response.headers.get("retry-after", "")
    if header.strip().isdigit():
        return min(float(header), MAX_WAIT_SECONDS)
    reset = response.headers.get("x-ratelimit-reset", "")
    if response.headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return min(max(float(reset) - time.time(), 0.0), MAX_WAIT_SECONDS)
    return min(2.0**attempt, MAX_WAIT_SECONDS)


def _rate_limited(response: httpx.Response) -> bool:
    """A 403 that is GitHub's (primary or secondary) rate limit, not a refused token."""
    if "retry-after" in response.headers or response.headers.get("x-ratelimit-remaining") == "0":
        return True
    return "rate limit" in error_message(response).lower()


def error_message(response: httpx.Response) -> str:
    """The forge's own words for a refusal (its JSON `message`, else the body), bounded."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    return str(data.get("message", data))[:300] if isinstance(data, dict) else str(data)[:300]


def _web_url(api_url: str, repo: str) -> str:
    """The repository's web address: github.com for the public API, the API host otherwise."""
    base = api_url.rstrip("/")
    if base == "https://api.github.com":
        return f"https://github.com/{repo}"
    return f"{base.removesuffix('/api/v3')}/{repo}"


__all__ = ["CHECK_NAME", "GitHub", "send", "standing_approvals"]
