from agent.models.context import load_context, style_example
from agent.pipeline.loop import Builder
from agent.settings import Settings
from tests.conftest import SEED_TEXT


def test_context_lists_features_and_shows_the_builders_own_example(settings: Settings) -> None:
    builder = Builder(settings)
    builder.repo.ensure()
    empty = load_context(builder.repo, builder.repo.branches()["main"])
    assert empty.features == () and empty.example == style_example()
    assert "app = FastAPI(" in empty.main_py and "def client" in empty.conftest
    empty_main = empty.main_py
    result = builder.run(SEED_TEXT)
    context = load_context(builder.repo, result.commit or "")
    assert context.features == ("smoke_test",)
    # Never the repository's first feature: what is planted there does not reach prompts.
    assert set(context.example) == {
        "src/features/pet_profile/pet_profile_models.py",
        "src/features/pet_profile/pet_profile_router.py",
    }
    assert context.main_py != empty_main and "smoke_test_router" in context.main_py
