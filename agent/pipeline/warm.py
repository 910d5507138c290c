"""What a long-running process loads before its first build, not during it.

A command-line build imports each part of the pipeline only when it reaches it, so that a
short process loads nothing it does not use. A service lives on: there, loading the gates, the
commit step and the offline generator's compiled templates in the middle of its first build
would hold the interpreter while requests wait, so it loads them at start-up instead.
"""

from __future__ import annotations

import importlib

#: The pipeline's parts a build imports on first use (agent.pipeline.loop, agent.pipeline.stages,
#: agent.pipeline.workbench).
BUILD_MODULES = (
    "agent.pipeline.commit",
    "agent.pipeline.report",
    "agent.pipeline.verify.box",
    "agent.pipeline.verify.gates",
)


def warm_up() -> None:
    """Import every part a build uses, and the offline generator with its templates compiled."""
    for name in BUILD_MODULES:
        importlib.import_module(name)
    from agent.models.offline import load_templates

    load_templates()
