"""Where the data under `prompts/` lives: the repository checkout, or the installed package."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def prompts_dir() -> Path:
    """The `prompts/` folder: `agent/_prompts` in a wheel, the repository's own in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_prompts", here.parent / "prompts"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the builder's prompts/ folder is missing from this installation")


def skeleton_files() -> dict[str, str]:
    """The PetSage skeleton (BLUEPRINT §2) as repository path → content."""
    root = prompts_dir() / "skeleton"
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            # Stored without its dot so that the builder's own git does not apply it.
            files[".gitignore" if relative == "gitignore" else relative] = path.read_text()
    return files


@lru_cache(maxsize=64)
def read_prompt(relative: str) -> str:
    """One file under `prompts/`, by its POSIX path there (`generation/system.md`)."""
    return (prompts_dir() / relative).read_text(encoding="utf-8")
