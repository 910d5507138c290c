"""The box's view of a test interpreter: probed once, kept with a fingerprint, probed again on
any change to what the answer was read from."""

import json
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.box import interpreter
from agent.box.interpreter import cache_folder, fingerprint, interpreter_paths


@pytest.fixture
def probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The interpreters actually run, with an empty cache of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ran: list[str] = []
    real = interpreter._probe

    def counting(python: str) -> tuple[list[str], list[str]]:
        ran.append(python)
        return real(python)

    monkeypatch.setattr(interpreter, "_probe", counting)
    interpreter_paths.cache_clear()
    yield ran
    interpreter_paths.cache_clear()


@pytest.fixture
def environment(tmp_path: Path) -> Path:
    """A real virtualenv (no pip: fast), over this interpreter."""
    folder = tmp_path / "env"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    return folder


def _site_packages(env: Path) -> Path:
    python = env / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    return Path(subprocess.check_output([str(python), "-I", "-c", purelib], text=True).strip())


def _fresh(python: str) -> tuple[str, ...]:
    interpreter_paths.cache_clear()  # a new process: only the kept answer is left
    return interpreter_paths(python)


def test_the_answer_is_kept_and_read_back_without_running_the_interpreter(
    probes: list[str], environment: Path
) -> None:
    python = str(environment / "bin" / "python")
    first = _fresh(python)
    assert str(environment.resolve()) in first
    assert _fresh(python) == first
    assert probes == [python]  # the second process read the cache
    assert len(list(cache_folder().glob("*.json"))) == 1


def test_a_new_pth_file_is_seen(probes: list[str], environment: Path, tmp_path: Path) -> None:
    python = str(environment / "bin" / "python")
    before = _fresh(python)
    extra = tmp_path / "elsewhere" / "site-packages"
    extra.mkdir(parents=True)
    (_site_packages(environment) / "extra.pth").write_text(
        f"import site; site.addsitedir({str(extra)!r})\n"
    )
    after = _fresh(python)
    assert len(probes) == 2
    assert str(extra.resolve()) in after and str(extra.resolve()) not in before


def test_an_edited_pth_file_is_seen(probes: list[str], environment: Path, tmp_path: Path) -> None:
    python = str(environment / "bin" / "python")
    pth = _site_packages(environment) / "extra.pth"
    first, second = tmp_path / "one" / "site-packages", tmp_path / "two" / "site-packages"
    for folder in (first, second):
        folder.mkdir(parents=True)
    pth.write_text(f"import site; site.addsitedir({str(first)!r})\n")
    assert str(first.resolve()) in _fresh(python)
    pth.write_text(f"import site; site.addsitedir({str(second)!r})     \n")  # same folder entry
    assert str(second.resolve()) in _fresh(python)
    assert len(probes) == 2


def test_a_remade_environment_is_probed_again(
    probes: list[str], environment: Path, tmp_path: Path
) -> None:
    python = str(environment / "bin" / "python")
    _fresh(python)
    (environment / "pyvenv.cfg").write_text((environment / "pyvenv.cfg").read_text() + "# remade\n")
    _fresh(python)
    assert len(probes) == 2


@pytest.mark.parametrize(
    "kept", ["", "not json", "[]", '{"prefixes": [1], "sites": [], "fingerprint": []}']
)
def test_a_damaged_cache_entry_is_probed_again(
    probes: list[str], environment: Path, kept: str
) -> None:
    python = str(environment / "bin" / "python")
    expected = _fresh(python)
    (entry,) = cache_folder().glob("*.json")
    entry.write_text(kept)
    assert _fresh(python) == expected
    assert len(probes) == 2
    assert json.loads(entry.read_text())["prefixes"]  # written anew


def test_an_unwritable_cache_only_costs_a_probe(
    probes: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert _fresh(sys.executable) == _fresh(sys.executable)
    assert len(probes) == 2


@pytest.mark.parametrize(
    "forged",
    [
        {"prefixes": ["/"]},
        {"prefixes": ["/root", "/home"]},
        {"prefixes": ["PREFIX", "/etc"]},
        {"prefixes": ["PREFIX/../.."]},
        {"prefixes": ["PREFIX/bin/.."]},
        {"prefixes": []},
    ],
)
def test_a_forged_entry_that_fits_the_fingerprint_is_never_used(
    probes: list[str], environment: Path, forged: dict[str, list[str]]
) -> None:
    """Whoever writes the cache cannot widen the box: a kept entry must name only what a probe
    of that interpreter could give (its own prefixes, package folders), or it is probed again.
    The forged entries keep the real package folders, so the fingerprint still fits."""
    python = str(environment / "bin" / "python")
    expected = _fresh(python)
    (entry,) = cache_folder().glob("*.json")
    kept = json.loads(entry.read_text())
    prefix = str(environment.absolute())
    paths = {k: [p.replace("PREFIX", prefix) for p in v] for k, v in forged.items()}
    entry.write_text(json.dumps({**kept, **paths}))
    assert _fresh(python) == expected
    assert len(probes) == 2


def test_a_forged_package_folder_is_never_used(
    probes: list[str], environment: Path, tmp_path: Path
) -> None:
    """A package folder must be one by name and exist; its fingerprint is forged to fit too."""
    python = str(environment / "bin" / "python")
    expected = _fresh(python)
    (entry,) = cache_folder().glob("*.json")
    kept = json.loads(entry.read_text())
    for site in ("/etc", str(tmp_path / "no" / "site-packages")):
        sites = [*kept["sites"], site]
        entry.write_text(
            json.dumps({**kept, "sites": sites, "fingerprint": fingerprint(python, sites)})
        )
        assert _fresh(python) == expected
    assert len(probes) == 3


def test_an_entry_others_could_write_is_not_read(probes: list[str], environment: Path) -> None:
    python = str(environment / "bin" / "python")
    _fresh(python)
    (entry,) = cache_folder().glob("*.json")
    entry.chmod(0o666)
    _fresh(python)
    assert len(probes) == 2
    assert entry.stat().st_mode & 0o777 == 0o600  # written anew, by this user only
    assert cache_folder().stat().st_mode & 0o777 == 0o700
