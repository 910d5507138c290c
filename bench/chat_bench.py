"""The chat's understanding on the phrasings corpus: accuracy per set, and time per message.

The rule-based assistant reads every case of the development set (the rules were written
against it) and of the held-out set (written first, never used while changing the rules: its
figure is the one that counts). Each message is answered by `respond` and timed.

With `--replay FILE`, the tool-calling assistant reads the same cases from a model's recorded
replies, served by a local OpenAI-compatible server to the real `openai` client: the model alone
(its proposal read right), and with the rules as the fallback (a malformed call, no proposal).
`--record FILE` writes such replies from the model `PETSAGE_MODEL` names (`openai:…`, `local:…`).

    python bench/chat_bench.py [--show-held-out] [--replay FILE | --record FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.chat.assistant import respond  # noqa: E402
from agent.chat.state import ChatState  # noqa: E402
from tests.chat.corpus import DEV, HELD_OUT, misread  # noqa: E402

SETS = {"development": DEV, "held-out": HELD_OUT}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-held-out", action="store_true", help="list misread held-out cases")
    parser.add_argument("--replay", type=Path, help="a model's recorded replies (JSON)")
    parser.add_argument("--record", type=Path, help="record the configured model's replies here")
    args = parser.parse_args()
    if args.record:
        record(args.record)
        return
    replies = json.loads(args.replay.read_text()) if args.replay else None
    model_columns = " model | model+rules |" if replies is not None else ""
    print("| set | cases | rules | ms p50 | ms p95 | ms max |" + model_columns)
    print("|---|---|---|---|---|---|" + ("---|---|" if replies is not None else ""))
    for name, cases in SETS.items():
        right, times, missed = _rules(cases)
        row = (
            f"| {name} | {len(cases)} | {right / len(cases):.1%} | {_ms(times, 50)} | "
            f"{_ms(times, 95)} | {max(times) * 1000:.1f} |"
        )
        if replies is not None:
            alone, with_rules = _model(cases, replies)
            row += f" {alone / len(cases):.1%} | {with_rules / len(cases):.1%} |"
        print(row)
        if name == "held-out" and args.show_held_out:
            print("\n".join(missed))


def _rules(cases: list[dict[str, Any]]) -> tuple[int, list[float], list[str]]:
    right, times, missed = 0, [], []
    for case in cases:
        started = time.perf_counter()
        turn = respond(ChatState(), case["say"])
        times.append(time.perf_counter() - started)
        wrong = misread(case, turn)
        right += not wrong
        if wrong:
            missed.append(f"- {case['say'][:80]!r}: {'; '.join(wrong)}")
    return right, times, missed


def _ms(times: list[float], percent: int) -> str:
    return f"{statistics.quantiles(times, n=100)[percent - 1] * 1000:.1f}"


def _model(cases: list[dict[str, Any]], replies: dict[str, Any]) -> tuple[int, int]:
    """Cases read right by the model's recorded proposal alone, and with the rules' fallback."""
    from agent.chat.model_assistant import respond_with_model
    from agent.models.openai_chat import OpenAIChatModel
    from agent.settings import Settings
    from tests.models.fake_openai import FakeOpenAI

    alone = with_rules = 0
    with FakeOpenAI() as server:
        os.environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-replay")
        model = OpenAIChatModel("replay", Settings())
        for case in cases:
            reply = replies.get(case["say"], {"content": None, "tool_calls": []})
            calls = [(c["name"], c["arguments"]) for c in reply["tool_calls"]]
            server.tool_calls(*calls, content=reply.get("content"))
            turn = respond_with_model(ChatState(), case["say"], model)
            right = not misread(case, turn)
            with_rules += right
            alone += right and "(The model" not in turn.reply and "with the rules" not in turn.reply
    return alone, with_rules


def record(path: Path) -> None:
    """Each corpus message once to the configured model; its reply's text and tool calls."""
    from agent.chat.model_assistant import system_prompt, tools
    from agent.models import create_model
    from agent.models.openai_chat import OpenAIChatModel
    from agent.settings import Settings

    settings = Settings()
    created = create_model(settings.model, settings)
    model = getattr(created, "inner", created)
    if not isinstance(model, OpenAIChatModel):
        raise SystemExit(f"PETSAGE_MODEL={settings.model!r} is not a tool-calling model")
    replies: dict[str, Any] = {}
    for case in [*DEV, *HELD_OUT]:
        messages = [
            {"role": "system", "content": system_prompt()},
            {"role": "user", "content": case["say"]},
        ]
        message = model.chat(messages, tools()).choices[0].message
        replies[case["say"]] = {
            "content": message.content,
            "tool_calls": [
                {"name": c.function.name, "arguments": json.loads(c.function.arguments or "{}")}
                for c in message.tool_calls or []
                if c.type == "function"
            ],
        }
    path.write_text(json.dumps(replies, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(replies)} replies written to {path}")


if __name__ == "__main__":
    main()
