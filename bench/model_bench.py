"""Builder overhead per model round, and prompt size, against a local OpenAI-compatible server.

The server answers after a fixed delay (2 s, as a real model might) with a reply that passes.
For `smoke_test` and a 6-field resource feature, one build each, N times: the model's wait,
the test run, and everything else (the builder's overhead: prompt assembly, SDK, parsing,
checks, git, wiring). Target: overhead <= 5% of the build time; prompt <= 4,000 tokens for
smoke_test (estimated at 4 characters a token, as the builder's budget does).

    python bench/model_bench.py [--runs 3] [--delay 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.models.offline import render_bundle  # noqa: E402
from agent.pipeline.loop import Builder  # noqa: E402
from agent.request import decode_request  # noqa: E402
from agent.settings import Settings  # noqa: E402
from tests.models.fake_openai import FakeOpenAI  # noqa: E402

REQUESTS = {
    "smoke_test": (ROOT / "examples" / "smoke_test.md").read_text(),
    "pet_profile": (ROOT / "examples" / "pet_profile.json").read_text(),
}
SEED = (ROOT / "examples" / "smoke_test_seed.txt").read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delay", type=float, default=2.0)
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith(("PETSAGE_", "OPENAI_")):
            del os.environ[name]
    print(f"{args.runs} runs each, model delay {args.delay:.1f} s, medians in seconds\n")
    header = ["feature", "build", "model", "tests", "overhead", "share", "prompt tok"]
    print(" | ".join(f"{h:>11}" for h in header))
    print("-|-".join("-" * 11 for _ in header))
    for feature, raw in REQUESTS.items():
        request = decode_request(raw)
        reply = SEED if feature == "smoke_test" else render_bundle(request).to_markdown()
        totals, waits, tests, prompts = [], [], [], []
        for _ in range(args.runs):
            with FakeOpenAI(delay=args.delay) as server, tempfile.TemporaryDirectory() as scratch:
                os.environ["OPENAI_BASE_URL"] = server.base_url
                os.environ["OPENAI_API_KEY"] = "bench"
                server.reply(reply)
                settings = Settings(
                    model="openai:bench-model",
                    workspace=Path(scratch) / "petsage_backend",
                    state_dir=Path(scratch) / "state",
                )
                result = Builder(settings).run(request)
                assert result.status == "succeeded", result.reasons
                totals.append(result.seconds)
                waits.append(result.timings["generate"])
                tests.append(result.timings["test"])
                prompts.append(sum(len(m["content"]) for m in server.requests[0]["messages"]) // 4)
        total, wait, test = (statistics.median(v) for v in (totals, waits, tests))
        overhead = total - wait - test
        cells = [
            feature,
            f"{total:.3f}",
            f"{wait:.3f}",
            f"{test:.3f}",
            f"{overhead:.3f}",
            f"{overhead / total:.1%}",
            str(statistics.median(prompts)),
        ]
        print(" | ".join(f"{c:>11}" for c in cells))
    print("\noverhead = build - model wait - test run; share = overhead / build (target <= 5%)")


if __name__ == "__main__":
    main()
