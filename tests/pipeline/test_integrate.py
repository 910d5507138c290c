"""When the Alembic check runs: whenever a build's files can change the schema it sees."""

import pytest

from agent.bundle import BundleFile, FileBundle, parse_reply
from agent.models.offline import render_bundle
from agent.pipeline.integrate import changes_schema
from agent.request import FeatureRequest
from tests.conftest import SEED_TEXT

ROUTER = "src/features/smoke_test/smoke_test_router.py"


def _with(bundle: FileBundle, path: str, extra: str) -> FileBundle:
    files = [
        BundleFile(path=f.path, content=f.content + extra if f.path == path else f.content)
        for f in bundle.files
    ]
    return bundle.model_copy(update={"files": files})


def test_a_status_feature_leaves_the_schema_alone() -> None:
    bundle = parse_reply(SEED_TEXT, "smoke_test")
    assert not changes_schema(bundle, [f.path for f in bundle.files], "smoke_test")


def test_a_resource_with_its_table_module_changes_it() -> None:
    request = FeatureRequest(feature="pets", description="d", requirements="name: str")
    bundle = render_bundle(request)
    assert changes_schema(bundle, [f.path for f in bundle.files], "pets")


@pytest.mark.parametrize(
    "extra",
    [
        "\nfrom sqlalchemy import Column, Integer\n",
        "\nfrom src.db import Base\n",
        "\nfrom src import db\n",
        "\nclass Sneaky:\n    __tablename__ = 'sneaky'\n",
        "\nimport importlib\nm = importlib.import_module('sqla' + 'lchemy')\n",
        "\nm = __import__('sqla' + 'lchemy')\n",
        "\nx = Base.metadata\n",
    ],
)
def test_a_table_declared_anywhere_else_runs_the_check_too(extra: str) -> None:
    bundle = _with(parse_reply(SEED_TEXT, "smoke_test"), ROUTER, extra)
    assert changes_schema(bundle, [f.path for f in bundle.files], "smoke_test")


def test_the_database_layer_added_to_an_older_repository_runs_it() -> None:
    bundle = parse_reply(SEED_TEXT, "smoke_test")
    assert changes_schema(bundle, [*(f.path for f in bundle.files), "alembic.ini"], "smoke_test")
