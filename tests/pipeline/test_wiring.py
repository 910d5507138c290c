import pytest

from agent.errors import IntegrationError
from agent.pipeline.wiring import is_wired, wire_router
from agent.prompt_files import skeleton_files

SKELETON_MAIN = skeleton_files()["src/main.py"]


def test_wiring_adds_import_and_include_once() -> None:
    wired = wire_router(SKELETON_MAIN, "smoke_test")
    assert "from src.features.smoke_test import smoke_test_router\n" in wired
    assert wired.count("app.include_router(smoke_test_router.router, prefix=API_V1_PREFIX)") == 1
    assert wire_router(wired, "smoke_test") == wired
    assert is_wired(wired, "smoke_test") and not is_wired(SKELETON_MAIN, "smoke_test")


def test_wiring_keeps_everything_else() -> None:
    wired = wire_router(wire_router(SKELETON_MAIN, "smoke_test"), "pet_profile")
    for line in SKELETON_MAIN.splitlines():
        assert line in wired.splitlines()
    lines = wired.splitlines()
    first = lines.index("app.include_router(smoke_test_router.router, prefix=API_V1_PREFIX)")
    assert lines[first + 1] == "app.include_router(pet_profile_router.router, prefix=API_V1_PREFIX)"
    compile(wired, "main.py", "exec")


def test_wiring_the_seeds_own_main_py_adds_nothing() -> None:
    seed_main = (
        "from fastapi import FastAPI\nfrom src.features.smoke_test import smoke_test_router\n\n"
        'API_V1_PREFIX = "/api/v1"\napp = FastAPI(title="PetSage API")\n'
        "# --- Router Integration ---\napp.include_router(smoke_test_router.router, prefix=API_V1_PREFIX)\n"
    )
    assert wire_router(seed_main, "smoke_test") == seed_main


def test_missing_prefix_constant_is_added() -> None:
    wired = wire_router("from fastapi import FastAPI\n\napp = FastAPI()\n", "pets")
    assert '\n\nAPI_V1_PREFIX = "/api/v1"\napp = FastAPI()\n' in wired
    assert wired.index("import pets_router") < wired.index("API_V1_PREFIX")


def test_a_main_py_without_app_or_that_does_not_parse_is_an_error() -> None:
    with pytest.raises(IntegrationError, match="no module-level `app"):
        wire_router("x = 1\n", "pets")
    with pytest.raises(IntegrationError, match="does not parse"):
        wire_router("def broken(:\n", "pets")


def test_patch_shows_the_added_lines() -> None:
    from agent.pipeline.wiring import patch

    diff = patch("src/main.py", SKELETON_MAIN, wire_router(SKELETON_MAIN, "pets"))
    added = [
        line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")
    ]
    assert [line for line in added if line != "+"] == [
        "+from src.features.pets import pets_router",
        "+app.include_router(pets_router.router, prefix=API_V1_PREFIX)",
    ]
    assert not any(
        line.startswith("-") and not line.startswith("---") for line in diff.splitlines()
    )
