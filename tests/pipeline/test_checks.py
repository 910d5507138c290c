import pytest

from agent.bundle import BundleFile, FileBundle, parse_reply
from agent.errors import BundleError
from agent.pipeline.checks import MAX_FILE_BYTES, check_bundle
from tests.conftest import SEED_TEXT, with_file

MODELS = "src/features/smoke_test/smoke_test_models.py"
ROUTER = "src/features/smoke_test/smoke_test_router.py"
TESTS = "tests/features/smoke_test/test_smoke_test.py"


def seed_bundle() -> FileBundle:
    return parse_reply(SEED_TEXT, "smoke_test")


def add(bundle: FileBundle, path: str, content: str = "x = 1\n") -> FileBundle:
    return bundle.model_copy(
        update={"files": [*bundle.files, BundleFile(path=path, content=content)]}
    )


def problems(bundle: FileBundle, feature: str = "smoke_test") -> list[str]:
    with pytest.raises(BundleError) as caught:
        check_bundle(bundle, feature)
    return [str(problem) for problem in caught.value.problems]


def test_the_seed_passes_and_gains_its_package_files() -> None:
    checked = check_bundle(seed_bundle(), "smoke_test")
    assert [f.path for f in checked.files] == [
        "src/features/smoke_test/__init__.py",
        MODELS,
        ROUTER,
        "tests/features/smoke_test/__init__.py",
        TESTS,
    ]


def test_nested_folders_get_package_files_too() -> None:
    checked = check_bundle(
        add(seed_bundle(), "src/features/smoke_test/helpers/util.py"), "smoke_test"
    )
    assert "src/features/smoke_test/helpers/__init__.py" in [f.path for f in checked.files]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("src/features/smoke_test/../../main.py", "`..`"),
        ("/etc/passwd.py", "absolute path"),
        ("C:/x.py", "absolute path"),
        ("src\\features\\smoke_test\\x.py", "backslash"),
        ("src/features/other/x.py", "outside the feature's folders"),
        ("src/main2.py", "outside the feature's folders"),
        ("tests/conftest.py", "outside the feature's folders"),
        ("src/features/smoke_test/notes.txt", "only `.py`"),
        ("src/features/smoke_test//x.py", "not a normalised"),
        ("src/features/smoke_test/my-module.py", "Python identifier"),
    ],
)
def test_paths_outside_the_rules_are_refused(path: str, reason: str) -> None:
    found = problems(add(seed_bundle(), path))
    assert any(p.startswith(path) and reason in p for p in found), found


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (MODELS, "the Pydantic models module"),
        (ROUTER, "the router module"),
        (TESTS, "the test module"),
    ],
)
def test_missing_modules_are_refused(path: str, reason: str) -> None:
    found = problems(with_file(seed_bundle(), path, None))
    assert f"{path}: missing: {reason} is required" in found


def test_syntax_errors_name_file_and_line() -> None:
    found = problems(with_file(seed_bundle(), MODELS, "class A(:\n    pass\n"))
    assert found == [f"{MODELS}:1: does not parse as Python: invalid syntax"] or any(
        p.startswith(f"{MODELS}:1: does not parse") for p in found
    )


def test_router_rules() -> None:
    no_router = problems(
        with_file(seed_bundle(), ROUTER, "from fastapi import APIRouter\nr = APIRouter()\n")
    )
    assert any("defines no module-level `router = APIRouter" in p for p in no_router)
    wrong_prefix = problems(
        with_file(
            seed_bundle(),
            ROUTER,
            "from fastapi import APIRouter\nrouter = APIRouter(prefix='/smoke_test')\n",
        )
    )
    assert any("must use prefix '/smoke-test', got '/smoke_test'" in p for p in wrong_prefix)
    not_router = problems(with_file(seed_bundle(), ROUTER, "router = dict(prefix='/smoke-test')\n"))
    assert any("is not an `APIRouter" in p for p in not_router)


def test_models_module_needs_a_pydantic_model() -> None:
    found = problems(with_file(seed_bundle(), MODELS, "class A:\n    pass\n"))
    assert any("defines no Pydantic model" in p for p in found)
    derived = with_file(
        seed_bundle(),
        MODELS,
        "import pydantic\nclass A(pydantic.BaseModel):\n    pass\nclass B(A):\n    pass\n",
    )
    check_bundle(derived, "smoke_test")


def test_test_module_needs_a_test() -> None:
    found = problems(with_file(seed_bundle(), TESTS, "def helper():\n    pass\n"))
    assert any("defines no `test_*` function" in p for p in found)
    in_class = with_file(
        seed_bundle(), TESTS, "class TestIt:\n    def test_a(self):\n        assert True\n"
    )
    check_bundle(in_class, "smoke_test")


def test_dangerous_code_is_refused_with_its_line() -> None:
    router = seed_bundle().get(ROUTER)
    assert router is not None
    hostile = router.content + "\nimport subprocess\nsubprocess.run(['id'])\n"
    found = problems(with_file(seed_bundle(), ROUTER, hostile))
    line = len(router.content.splitlines()) + 2
    assert f"{ROUTER}:{line}: imports `subprocess`, which generated code may not use" in found


def test_oversize_and_too_many_files() -> None:
    big = problems(
        add(seed_bundle(), "src/features/smoke_test/big.py", "x = 1\n" * (MAX_FILE_BYTES // 5))
    )
    assert any("at most 204800 are allowed" in p for p in big)
    bundle = seed_bundle()
    for index in range(30):
        bundle = add(bundle, f"src/features/smoke_test/m{index}.py")
    assert any("files, at most 30" in p for p in problems(bundle))


def test_duplicates_and_wrong_feature() -> None:
    assert any("appears twice" in p for p in problems(add(seed_bundle(), MODELS, "x = 1\n")))
    wrong = seed_bundle().model_copy(update={"feature": "other"})
    assert "feature: is 'other', the request asks for 'smoke_test'" in problems(wrong)


def test_every_problem_is_reported_at_once() -> None:
    bundle = with_file(seed_bundle(), TESTS, None)
    bundle = add(bundle, "../escape.py")
    bundle = with_file(bundle, MODELS, "eval('1')\n")
    found = problems(bundle)
    assert len(found) >= 4, found


def test_a_table_module_must_define_an_orm_table_class() -> None:
    table = "src/features/smoke_test/smoke_test_table.py"
    found = problems(add(seed_bundle(), table, "class SmokeTestRow:\n    pass\n"))
    assert any(p.startswith(table) and "__tablename__" in p for p in found), found
    good = "class SmokeTestRow(Base):\n    __tablename__ = 'smoke_test'\n"
    assert table in [
        f.path for f in check_bundle(add(seed_bundle(), table, good), "smoke_test").files
    ]


CONFTEST = "tests/features/smoke_test/conftest.py"


def seed_tests() -> str:
    return next(f.content for f in seed_bundle().files if f.path == TESTS)


@pytest.mark.parametrize(
    ("path", "content", "reason"),
    [
        (CONFTEST, "x = 1\n", "a `conftest.py` may not be generated"),
        (TESTS, "def pytest_collection_modifyitems(items):\n    items.clear()\n", "pytest hook"),
        (TESTS, "pytest_plugins = ['evil']\n", "`pytest_plugins`"),
        (TESTS, "import pytest\npytest.skip('no', allow_module_level=True)\n", "module level"),
        (TESTS, "import pytest\nif True:\n    pytest.importorskip('x')\n", "module level"),
        (TESTS, "import pytest\npytestmark = pytest.mark.skip\n", "`pytestmark`"),
    ],
)
def test_what_would_steer_pytest_is_refused(path: str, content: str, reason: str) -> None:
    if path == CONFTEST:
        bundle = add(seed_bundle(), path, content)
    else:
        bundle = with_file(seed_bundle(), path, seed_tests() + "\n" + content)
    found = problems(bundle)
    assert any(path in p and reason in p for p in found), found


def test_a_skip_inside_a_test_and_the_anyio_mark_are_fine() -> None:
    content = (
        seed_tests()
        + "\nimport pytest\npytestmark = pytest.mark.anyio\n"
        + "def test_later():\n    pytest.skip('later')\n"
    )
    check_bundle(with_file(seed_bundle(), TESTS, content), "smoke_test")


def test_the_scan_switched_off_lets_code_through_but_not_paths() -> None:
    bundle = add(seed_bundle(), CONFTEST, "import subprocess\ndef pytest_configure(config): ...\n")
    check_bundle(bundle, "smoke_test", scan=False)
    with pytest.raises(BundleError):
        check_bundle(add(seed_bundle(), "requirements.txt", "evil\n"), "smoke_test", scan=False)
