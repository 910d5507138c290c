"""What a model is told about the target repository, read from one commit."""

from __future__ import annotations

from agent.layout import FeatureLayout
from agent.models.base import RepoContext
from agent.wiring import MAIN_PY
from agent.workspace import TargetRepo


def load_context(repo: TargetRepo, commit: str) -> RepoContext:
    """`src/main.py`, `tests/conftest.py`, the existing features and one of them as an example."""
    features = tuple(
        name for name in repo.list_dir(commit, "src/features") if not name.endswith(".py")
    )
    example: dict[str, str] = {}
    if features:
        layout = FeatureLayout(features[0])
        for path in (layout.models_path, layout.router_path):
            text = repo.show(commit, path)
            if text is not None:
                example[path] = text
    return RepoContext(
        main_py=repo.show(commit, MAIN_PY) or "",
        conftest=repo.show(commit, "tests/conftest.py") or "",
        features=features,
        example=example,
    )
