"""The folders of the host a test interpreter needs inside the box, found once per interpreter.

Finding them takes a run of that interpreter (its prefixes, and the package folders its `.pth`
files add), about as long as a small test's start; a command-line build cannot spare it
before its test process starts. So the answer is kept in the builder's cache with a
fingerprint of everything it was read from: the interpreter's file and link, its `pyvenv.cfg`,
and each package folder with its `.pth` files. Any change there (a package installed, the
interpreter upgraded, the environment remade) misses the fingerprint and the interpreter runs
again. The cache lives outside every box, in a folder only the builder's user can write, and an
entry is used only when it is that user's own and names nothing a probe could not have given
(`plausible`): a forged one costs a probe, never a wider box.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from agent.errors import InfrastructureError, SandboxUnavailable

_PROBE = (
    "import json, os, sys; print(json.dumps([[sys.prefix, sys.base_prefix, sys.exec_prefix],"
    " [p for p in sys.path if os.path.basename(p) in ('site-packages', 'dist-packages')]]))"
)

Fingerprint = list[list[object]]


@functools.lru_cache(maxsize=8)
def interpreter_paths(python: str) -> tuple[str, ...]:
    """The folders an interpreter needs besides /usr: its prefixes (a venv's and its base's),
    and the package folders a `.pth` file adds (the offline fallback's, over the builder's venv).

    Nothing else of the host is visible: not the builder's checkout, not home folders. Found
    once per process (a service keeps its answer for its life), from the cache when its entry
    still fits the interpreter and only names folders a probe could have given.
    """
    kept = _cache_file(python)
    entry = _read(kept)
    if entry is not None:
        prefixes, sites = entry["prefixes"], entry["sites"]
        if plausible(python, prefixes, sites) and entry["fingerprint"] == fingerprint(
            python, sites
        ):
            return _outermost(python, prefixes, sites)
    began = time.time_ns()
    prefixes, sites = _probe(python)
    marks = fingerprint(python, sites)
    if not _changed_since(marks, began):  # else the answer may predate the change: not kept
        _write(kept, {"prefixes": prefixes, "sites": sites, "fingerprint": marks})
    return _outermost(python, prefixes, sites)


def plausible(python: str, prefixes: list[str], sites: list[str]) -> bool:
    """Whether a kept answer names only what a probe of `python` gives: prefixes that hold the
    interpreter (as called, or its real file), package folders named so, all of them existing,
    absolute, normalised folders other than `/`. A forged entry binds nothing else this way."""
    holders = {str(Path(python).absolute().parent), str(Path(os.path.realpath(python)).parent)}

    def folder(path: str) -> bool:
        return (
            path.startswith("/")
            and path != "/"
            and os.path.normpath(path) == path
            and Path(path).is_dir()
        )

    def holds(prefix: str) -> bool:
        return any(h == prefix or h.startswith(prefix + os.sep) for h in holders)

    return (
        bool(prefixes)
        and all(folder(p) and holds(p) for p in prefixes)
        and all(folder(s) and Path(s).name in ("site-packages", "dist-packages") for s in sites)
    )


def _changed_since(marks: Fingerprint, began: int) -> bool:
    """Whether anything fingerprinted changed while the probe ran (its ctime at or after)."""
    return any(isinstance(mark[-1], list) and mark[-1][-1] >= began for mark in marks[1:])


def fingerprint(python: str, sites: list[str]) -> Fingerprint:
    """What the probe's answer for `python` depends on, as stat results (missing: None)."""
    marks: Fingerprint = [[python, os.path.realpath(python)]]
    venv_config = Path(python).absolute().parent.parent / "pyvenv.cfg"
    for path, follow in ((python, False), (python, True), (str(venv_config), True)):
        marks.append([path, follow, _stat(path, follow)])
    for site in sites:
        marks.append([site, True, _stat(site, True)])
        try:
            pth_files = sorted(str(p) for p in Path(site).iterdir() if p.name.endswith(".pth"))
        except OSError:
            continue
        marks.extend([pth, True, _stat(pth, True)] for pth in pth_files)
    return marks


def _stat(path: str, follow: bool) -> list[int] | None:
    try:
        found = Path(path).stat(follow_symlinks=follow)
    except OSError:
        return None
    return [found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns]


def _probe(python: str) -> tuple[list[str], list[str]]:
    try:
        done = subprocess.run(
            [python, "-I", "-c", _PROBE], capture_output=True, text=True, check=False, timeout=300
        )
    except subprocess.TimeoutExpired as e:  # one interpreter start: only a busy machine is slow
        raise InfrastructureError(
            f"the test interpreter {python} did not answer within 300 s: the machine was too busy",
            stage="tested",
            limit="interpreter_probe_wall_seconds",
            figure=300.0,
            budget=300.0,
        ) from e
    if done.returncode != 0:
        raise SandboxUnavailable(f"cannot run the test interpreter {python}: {done.stderr.strip()}")
    prefixes, sites = json.loads(done.stdout)
    return [str(p) for p in prefixes], [str(s) for s in sites]


def _outermost(python: str, prefixes: list[str], sites: list[str]) -> tuple[str, ...]:
    folders = {os.path.realpath(folder) for folder in [*prefixes, *sites]}
    real_python = os.path.realpath(python)
    if not any(real_python.startswith(folder + os.sep) for folder in folders | {"/usr"}):
        folders.add(str(Path(real_python).parent))
    outermost = {f for f in folders if not any(f.startswith(o + os.sep) for o in folders)}
    return tuple(sorted(f for f in outermost if f != "/usr" and not f.startswith("/usr/")))


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "petsage-builder" / "interpreters"


def _cache_file(python: str) -> Path:
    digest = hashlib.sha256(str(Path(python).absolute()).encode()).hexdigest()[:16]
    return cache_folder() / f"{digest}.json"


def _read(path: Path) -> dict[str, list] | None:  # type: ignore[type-arg]
    """The kept entry, if this user wrote it and nobody else can have: else None (a probe)."""
    try:
        with path.open("rb") as handle:
            status = os.fstat(handle.fileno())
            if status.st_uid != os.geteuid() or status.st_mode & 0o022:
                return None
            entry = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or not all(
        isinstance(entry.get(key), list) for key in ("prefixes", "sites", "fingerprint")
    ):
        return None
    if not all(isinstance(item, str) for item in entry["prefixes"] + entry["sites"]):
        return None
    return entry


def _write(path: Path, entry: dict[str, object]) -> None:
    """Kept for the next process, in a folder only this user can write; a cache that cannot be
    written is only slower."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(entry))
        Path(partial).replace(path)
    except OSError:
        return
