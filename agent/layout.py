"""Where a feature's files live in the target repository (BLUEPRINT §2)."""

from __future__ import annotations

from dataclasses import dataclass

#: The target's app: every feature's router is included here.
MAIN_PY = "src/main.py"


@dataclass(frozen=True)
class FeatureLayout:
    """The paths and names of one feature, derived from its snake_case name."""

    feature: str

    @property
    def kebab(self) -> str:
        return self.feature.replace("_", "-")

    @property
    def prefix(self) -> str:
        return f"/{self.kebab}"

    @property
    def url(self) -> str:
        return f"/api/v1/{self.kebab}"

    @property
    def src_dir(self) -> str:
        return f"src/features/{self.feature}"

    @property
    def tests_dir(self) -> str:
        return f"tests/features/{self.feature}"

    @property
    def models_path(self) -> str:
        return f"{self.src_dir}/{self.feature}_models.py"

    @property
    def router_path(self) -> str:
        return f"{self.src_dir}/{self.feature}_router.py"

    @property
    def table_path(self) -> str:
        """The ORM table module of a resource feature (a typed `Mapped[...]` class)."""
        return f"{self.src_dir}/{self.feature}_table.py"

    @property
    def repository_path(self) -> str:
        """The create/list/get/update/delete functions of a resource feature, on a session."""
        return f"{self.src_dir}/{self.feature}_repository.py"

    @property
    def table_module(self) -> str:
        return f"src.features.{self.feature}.{self.feature}_table"

    @property
    def test_path(self) -> str:
        return f"{self.tests_dir}/test_{self.feature}.py"

    @property
    def router_module(self) -> str:
        return f"src.features.{self.feature}"

    @property
    def router_alias(self) -> str:
        return f"{self.feature}_router"

    @property
    def class_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.feature.split("_"))

    @property
    def title(self) -> str:
        return " ".join(part.capitalize() for part in self.feature.split("_"))
