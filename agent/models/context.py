"""What a model is told about the target repository, read from one commit."""

from __future__ import annotations

import json
from functools import lru_cache

from agent.layout import MAIN_PY, FeatureLayout
from agent.models.base import RepoContext
from agent.prompt_files import prompts_dir, read_prompt
from agent.repo.workspace import TargetRepo
from agent.request import FeatureRequest

#: The known request whose offline-generated files are every prompt's style example. The
#: example never comes from the target repository, so nothing planted there persists in prompts.
STYLE_REQUEST = FeatureRequest(
    feature="pet_profile",
    description="Store the pets of a household",
    requirements="name: str len>=1 len<=40\nage: int >=0 <=40\nspecies: dog|cat|bird",
)


def load_context(repo: TargetRepo, commit: str) -> RepoContext:
    """`src/main.py`, `tests/conftest.py`, the existing features, and the style example."""
    features = tuple(
        name for name in repo.list_dir(commit, "src/features") if not name.endswith(".py")
    )
    return RepoContext(
        main_py=repo.show(commit, MAIN_PY) or "",
        conftest=repo.show(commit, "tests/conftest.py") or "",
        features=features,
        example=style_example(),
    )


#: The style example as stored, so that no build renders it: `python -m agent.models.context`
#: writes it again, and tests/models/test_prompting.py checks that it is the generator's output.
STYLE_EXAMPLE = "generation/style_example.json"


@lru_cache(maxsize=1)
def style_example() -> dict[str, str]:
    """The offline generator's models and router for `STYLE_REQUEST`: path → text."""
    stored = json.loads(read_prompt(STYLE_EXAMPLE))
    return {str(path): str(text) for path, text in stored.items()}


def render_style_example() -> dict[str, str]:
    """The style example, rendered by the offline generator now."""
    from agent.models.offline import render_bundle

    bundle = render_bundle(STYLE_REQUEST)
    layout = FeatureLayout(STYLE_REQUEST.feature)
    return {
        file.path: file.content
        for file in bundle.files
        if file.path in (layout.models_path, layout.router_path)
    }


if __name__ == "__main__":
    target = prompts_dir() / STYLE_EXAMPLE
    target.write_text(json.dumps(render_style_example(), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {target}")
