"""`petsage-builder`: the command-line face of the builder.

Exit codes (BLUEPRINT §6): 0 a build succeeded, 1 it failed, 2 bad input (or a rejected request).
`pr merge` and `pr refresh` also exit 3 when the machine was too busy for their suite run (twice):
nothing changed, and the same command can pass later.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from agent.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_OK,
    BadInput,
    read_payload,
    settings_from,
)
from agent.quoting import strip_controls


def main(argv: list[str] | None = None) -> int:
    from agent.redact import install_log_redaction

    install_log_redaction()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        code: int = args.handler(args)
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if argv is None:
        # The process ends with this command (the console script, `python -m agent.cli`): what
        # is alive stays alive until then, so the interpreter's last garbage collection, a walk
        # over every object of every module loaded (the openai SDK's thousands of types), is
        # skipped. A caller that passes `argv` goes on, and keeps its collector as it was.
        gc.freeze()
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="petsage-builder",
        description="Turn a feature request into a tested, committed PetSage backend feature.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    build = commands.add_parser("build", help="build one feature request")
    build.add_argument(
        "--payload", required=True, metavar="FILE|-", help="the request: a file, or - for stdin"
    )
    build.add_argument(
        "--workspace",
        type=Path,
        metavar="DIR",
        help="the target repository (default generated/petsage_backend)",
    )
    build.add_argument(
        "--json", action="store_true", help="print the result as JSON instead of the report"
    )
    build.add_argument(
        "--max-rounds", type=int, metavar="N", help="model rounds, repairs included (default 3)"
    )
    build.add_argument(
        "--model", metavar="SPEC", help="override PETSAGE_MODEL (offline, openai:<model>, ...)"
    )
    build.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    build.add_argument("--open-pr", action="store_true", help="open or update a pull request")
    build.set_defaults(handler=_build)
    pulls = commands.add_parser(
        "pr", help="local pull requests: list, show, merge, close, refresh onto their base"
    )
    pulls.add_argument("action", choices=("list", "show", "merge", "close", "refresh"))
    pulls.add_argument("id", nargs="?", help="the pull request (not for list)")
    pulls.add_argument("--all", action="store_true", help="refresh: every PR behind its base")
    pulls.add_argument("--workspace", type=Path, metavar="DIR", help="the target repository")
    pulls.add_argument("--json", action="store_true", help="print JSON")
    pulls.set_defaults(handler=_pulls)
    chat = commands.add_parser("chat", help="build features by chatting")
    chat.add_argument("--url", help="a running service (default: work in-process)")
    chat.add_argument(
        "--workspace", type=Path, metavar="DIR", help="the target repository (in-process)"
    )
    chat.set_defaults(handler=_chat)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, metavar="N", help="builds at once (default: cores)")
    serve.add_argument("--workspace", type=Path, metavar="DIR", help="the target repository")
    serve.set_defaults(handler=_serve)
    worker = commands.add_parser(
        "worker", help="run builds from the Celery queue (PETSAGE_JOBS=celery deployments)"
    )
    worker.add_argument(
        "--workspace", type=Path, metavar="DIR", help="this worker's own clone of the remote"
    )
    worker.add_argument("--name", help="this worker's name (default petsage-<pid>@<host>)")
    worker.add_argument(
        "--concurrency", type=int, default=1, metavar="N", help="builds at once (default 1)"
    )
    worker.set_defaults(handler=_worker)
    from agent.cli.eval import add_parser as add_eval_parser

    add_eval_parser(commands)
    hook = commands.add_parser(
        "webhook-test", help="sign a GitHub delivery and post it to a running service"
    )
    hook.add_argument("--event", required=True, help="e.g. issues.labeled or issue_comment")
    hook.add_argument("--payload", required=True, metavar="FILE|-", help="the delivery's JSON")
    hook.add_argument(
        "--url",
        default="http://127.0.0.1:8000/api/v1/webhooks/github",
        help="the webhook endpoint (default: a local `serve`)",
    )
    hook.set_defaults(handler=_webhook_test)
    return parser


def _build(args: argparse.Namespace) -> int:
    from agent.cli.build import run_build

    return run_build(args)


def _pulls(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from agent.errors import InfrastructureError, PullRequestError
    from agent.repo.workspace import TargetRepo
    from agent.review.pulls import LocalPulls

    target = TargetRepo(
        settings.workspace,
        settings.resolved_state_dir(),
        author=(settings.author_name, settings.author_email),
    )
    pulls = LocalPulls(target)
    if args.action in ("list", "refresh"):
        from agent.cli import pulls as cli_pulls

        if args.action == "list":
            return cli_pulls.list_pulls(args, pulls)
        return cli_pulls.refresh(args, pulls, settings)
    if not args.id:
        print(f"error: pr {args.action} needs a pull request id", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.action == "show":
            pull = pulls.get(args.id)
        elif args.action == "merge":
            pull = pulls.merge(args.id, settings)
        else:
            pull = pulls.close(args.id)
    except PullRequestError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except InfrastructureError as e:
        print(f"error: {e}; nothing changed: try again later", file=sys.stderr)
        return EXIT_BUSY
    if args.json:
        print(pull.model_dump_json(indent=2))
    else:
        head = f"  at {pull.head_commit[:12]}" if pull.head_commit else ""
        print(
            strip_controls(
                f"{pull.id}  {pull.state}  {pull.branch} -> {pull.base}{head}\n"
                f"{pull.title}\n\n{pull.body}"
            )
        )
        if args.action == "show":
            print(strip_controls(f"\n{pull.diff}"))
    return EXIT_OK


def _chat(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from agent.chat.terminal import run_chat
    from agent.errors import StateLocked
    from agent.store import statelock

    # The token comes from PETSAGE_API_TOKEN: argv is visible to every user of the machine.
    token = settings.api_token.get_secret_value() if settings.api_token else None
    if args.url:
        return run_chat(settings, url=args.url, token=token)
    try:
        with statelock.holding(
            settings.resolved_state_dir(), role="petsage-builder chat", shared=True
        ):
            return run_chat(settings)
    except StateLocked as e:
        print(
            f"error: {e}; or chat with it: petsage-builder chat --url <its address>",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT


def _serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from agent.addresses import is_loopback_host

    if not is_loopback_host(args.host) and not settings.token_set:
        print(
            f"error: --host {args.host} is reachable beyond this machine: set PETSAGE_API_TOKENS "
            "(comma-separated bearer tokens) first",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if not is_loopback_host(args.host) and args.host not in ("0.0.0.0", "::"):
        # Clients reach a service bound to one address by that address: it is a served Host.
        hosts = f"{settings.allowed_hosts},{args.host.strip('[]')}".strip(",")
        settings = settings.model_copy(update={"allowed_hosts": hosts})
    elif not is_loopback_host(args.host) and not settings.allowed_hosts:
        print(
            "note: only loopback Host names are answered; set PETSAGE_ALLOWED_HOSTS to the "
            "names clients use to reach this machine",
            file=sys.stderr,
        )
    import uvicorn

    from agent.errors import ConfigError, StateLocked
    from agent.service.app import create_app
    from agent.store import statelock

    try:
        # Held for the life of this process (the service takes it again, re-entrantly).
        statelock.acquire(settings.resolved_state_dir(), role="petsage-builder serve")
        app = create_app(settings)
    except (ConfigError, StateLocked) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"petsage-builder: serving on http://{args.host}:{args.port} (docs at /docs), "
        f"model {settings.model}, {settings.workers} worker(s), workspace {settings.workspace}",
        file=sys.stderr,
    )
    # Builds run in worker threads; a short switch interval keeps the event loop answering.
    sys.setswitchinterval(0.0005)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not 1 <= args.concurrency <= 64:
        raise BadInput("--concurrency: must be between 1 and 64")
    from agent.errors import BuilderError
    from agent.jobs.worker import run_worker
    from agent.redact import redact_url
    from agent.store import statelock

    print(
        f"petsage-builder: worker on queue {settings.queue}, model {settings.model}, "
        f"clone {settings.workspace} of {redact_url(settings.git_remote)}",
        file=sys.stderr,
    )
    try:
        statelock.acquire(settings.resolved_state_dir(), role="petsage-builder worker")
        return run_worker(settings, name=args.name, concurrency=args.concurrency)
    except BuilderError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _webhook_test(args: argparse.Namespace) -> int:
    import httpx

    from agent.github.events import send_test_delivery

    secret = settings_from(args).webhook_key
    if not secret:
        raise BadInput("PETSAGE_WEBHOOK_SECRET: set it to the service's webhook secret")
    try:
        response = send_test_delivery(args.url, secret, args.event, read_payload(args.payload))
    except (httpx.HTTPError, ValueError) as e:
        print(f"error: {args.url}: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{response.status_code} {response.reason_phrase}")
    if response.content:
        print(response.text)
    return EXIT_OK if response.is_success else EXIT_FAILED
