"""The target's requirements.txt: the database layer's pins a build adds where they are missing.

Light on purpose (no pydantic, no git): the command-line head start reads it before the
builder loads (agent.box.prestart), to find the test environment a build will use.
"""

from __future__ import annotations

from agent.prompt_files import skeleton_files

#: The packages of the database layer (agent.pipeline.persistence), pinned as the skeleton does.
DATABASE_PACKAGES = ("sqlalchemy", "alembic", "uvicorn")


def upgraded_requirements(text: str) -> str:
    """`text` with the skeleton's pins of sqlalchemy, alembic and uvicorn added where missing."""
    present = {package_name(line) for line in text.splitlines()}
    pins = {package_name(line): line for line in skeleton_files()["requirements.txt"].splitlines()}
    missing = [pins[name] for name in DATABASE_PACKAGES if name not in present]
    if not missing:
        return text
    return text.rstrip("\n") + ("\n" if text.strip() else "") + "\n".join(missing) + "\n"


def package_name(line: str) -> str:
    """The normalised package name a requirement line names ('' for a blank or comment line)."""
    name = line.split("#", 1)[0].strip()
    for separator in ("==", ">=", "<=", "~=", "!=", ">", "<", "[", ";", " "):
        name = name.split(separator, 1)[0]
    return name.strip().lower().replace("_", "-")
