"""The database layer's pins, added to a target's requirements.txt where they are missing."""

from agent.pipeline.requirements import DATABASE_PACKAGES, package_name, upgraded_requirements
from agent.prompt_files import skeleton_files


def test_the_skeleton_needs_nothing_added() -> None:
    skeleton = skeleton_files()["requirements.txt"]
    assert upgraded_requirements(skeleton) == skeleton


def test_missing_pins_are_added_once_with_the_skeletons_versions() -> None:
    before = "fastapi==0.115.0\npytest==8.3.3"  # no newline at the end
    after = upgraded_requirements(before)
    assert after.startswith(before + "\n") and after.endswith("\n")
    added = after[len(before) + 1 :].splitlines()
    assert [package_name(line) for line in added] == list(DATABASE_PACKAGES)
    skeleton = skeleton_files()["requirements.txt"].splitlines()
    assert all(line in skeleton for line in added)
    assert upgraded_requirements(after) == after


def test_a_pin_written_another_way_counts_as_present() -> None:
    before = "SQLAlchemy[asyncio] >= 2.0  # ours\nalembic~=1.13\nuvicorn ; python_version>'3'\n"
    assert upgraded_requirements(before) == before


def test_an_empty_file_gets_just_the_pins() -> None:
    assert [package_name(line) for line in upgraded_requirements("").splitlines()] == list(
        DATABASE_PACKAGES
    )
    assert package_name("# a comment") == ""
