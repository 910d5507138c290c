"""The SDK a model needs is imported in a thread, started before the build needs it."""

import subprocess
import sys

from agent.models.preload import preload_sdk


def test_only_a_model_with_an_sdk_starts_a_thread() -> None:
    assert preload_sdk("offline") is None
    assert preload_sdk("replay:/tmp/x.json") is None


def test_the_openai_sdk_is_loaded_by_the_thread() -> None:
    probe = (
        "import sys\n"
        "from agent.models.preload import preload_sdk\n"
        "assert 'openai' not in sys.modules\n"
        "thread = preload_sdk(' openai:gpt-4.1-mini')\n"
        "thread.join(120)\n"
        "print('openai' in sys.modules and not thread.is_alive())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=180
    )
    assert done.stdout.strip() == "True", done.stderr[-2000:]
