"""The house rules that keep `agent/` readable: folders by purpose, no module over 400 lines."""

from pathlib import Path

AGENT = Path(__file__).resolve().parents[1] / "agent"
MAX_LINES = 400
FOLDERS = {"build", "testing", "repo", "models", "chat", "github", "service", "store", "jobs"}


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(AGENT)): n
        for path in AGENT.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these by responsibility: {long}"


def test_the_folders_show_the_design() -> None:
    packages = {p.name for p in AGENT.iterdir() if (p / "__init__.py").is_file()}
    assert packages >= FOLDERS, sorted(FOLDERS - packages)
    for folder in FOLDERS:
        doc = (AGENT / folder / "__init__.py").read_text(encoding="utf-8").strip()
        assert doc.startswith('"""'), f"agent/{folder}/__init__.py says what the folder is for"
