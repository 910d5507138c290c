"""The embedded default model: builds status and resource features from templates, offline.

It returns the same file bundle a real model would (BLUEPRINT §4). Anything beyond those two kinds
is refused before any work, with a message saying a configured model is needed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from agent.bundle import BundleFile, FileBundle, normalise_content
from agent.errors import ModelError, ModelRefused
from agent.fields import FieldSpec, ResourceSpec
from agent.layout import FeatureLayout
from agent.models.base import GenerationTask, Model, ModelReply
from agent.models.samples import bad_values, edge_values, py_literal, valid_value
from agent.pipeline.verify.requirements_map import field_requirements
from agent.prompt_files import prompts_dir
from agent.request import FeatureRequest

STATUS_MESSAGE = "PetSage Backend is operational."
_PY_TYPES = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "date": "date",
    "datetime": "datetime",
}


class OfflineModel(Model):
    """Status features (requirements `none`) and resource features (field rules), no network."""

    name = "offline"

    def check(self, request: FeatureRequest) -> None:
        if request.requirements is None or request.resource is not None:
            return
        raise ModelRefused(
            "the offline generator builds status features (requirements 'none') and resource "
            "features (field lines such as `age: int >=0 <=40`, or a `fields` object); these "
            "requirements are free text and need a configured model: set PETSAGE_MODEL to "
            "openai:<model>, local:<path.gguf> or replay:<file>"
        )

    def generate(self, task: GenerationTask) -> ModelReply:
        if task.feedback is not None:
            raise ModelError(
                "the offline generator's own files were refused and it cannot repair them: "
                + "; ".join(task.feedback.reasons)
            )
        self.check(task.request)
        bundle = render_bundle(task.request)
        return ModelReply(text=bundle.to_markdown(), bundle=bundle)


def render_bundle(request: FeatureRequest) -> FileBundle:
    """The files of `request` from the templates in `prompts/offline/`."""
    layout = FeatureLayout(request.feature)
    spec = request.resource
    if spec is None:
        kind, values = "status", _status_values(request, layout)
        names = {
            "models": layout.models_path,
            "router": layout.router_path,
            "test": layout.test_path,
        }
        summary = f"A status endpoint: GET {layout.url} answers 200 with status and message."
    else:
        kind, values = "resource", _resource_values(request, layout, spec)
        names = {
            "models": layout.models_path,
            "table": layout.table_path,
            "repository": layout.repository_path,
            "router": layout.router_path,
            "test": layout.test_path,
        }
        summary = (
            f"A resource at {layout.url} with {len(spec.fields)} fields "
            f"({', '.join(f.name for f in spec.fields)}) and the operations "
            f"{', '.join(spec.operations)}, stored in the `{request.feature}` table."
        )
    files = [
        BundleFile(
            path=path, content=normalise_content(_template(f"{kind}/{name}.py.j2").render(values))
        )
        for name, path in names.items()
    ]
    return FileBundle(feature=request.feature, files=files, summary=summary)


def load_templates() -> int:
    """Compile every template now (a service does, before its first build); how many."""
    folder = prompts_dir() / "offline"
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.j2"))
    for name in names:
        _template(name)
    return len(names)


@lru_cache(maxsize=64)
def _template(name: str) -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(prompts_dir() / "offline"),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    return environment.get_template(name)


def _common(request: FeatureRequest, layout: FeatureLayout) -> dict[str, Any]:
    return {
        "feature": layout.feature,
        "kebab": layout.kebab,
        "title": layout.title,
        "title_lower": layout.title.lower(),
        "class_prefix": layout.class_prefix,
        "description_doc": _docstring_safe(request.description),
    }


def _status_values(request: FeatureRequest, layout: FeatureLayout) -> dict[str, Any]:
    return {**_common(request, layout), "message": STATUS_MESSAGE}


def _resource_values(
    request: FeatureRequest, layout: FeatureLayout, spec: ResourceSpec
) -> dict[str, Any]:
    enums = []
    fields = []
    for field in spec.fields:
        annotation = "int" if field.type == "ref" else _PY_TYPES.get(field.type, "")
        if field.type == "enum":
            alias = "".join(part.capitalize() for part in field.name.split("_")) + "Choice"
            enums.append(
                {"alias": alias, "literal": ", ".join(py_literal(c) for c in field.choices or ())}
            )
            annotation = alias
        rules = _rules(field)
        fields.append(
            {
                "name": field.name,
                # Also in the PATCH body: a required field may be left out there but not set to
                # null, and its schema says so (not nullable): the OpenAPI document tells the truth.
                "annotation": annotation if field.required else f"{annotation} | None",
                "create_suffix": _default_suffix(rules, required=field.required),
                "update_suffix": _default_suffix(rules, required=False),
            }
        )
    date_names = sorted({f.type for f in spec.fields if f.type in ("date", "datetime")})
    required = [f.name for f in spec.fields if f.required]
    valid = {f.name: valid_value(f, 0) for f in spec.fields}
    changed = {f.name: valid_value(f, 1) for f in spec.fields if valid_value(f, 1) != valid[f.name]}
    if not changed:
        changed = dict(valid)
    bad = [py_literal(case) for f in spec.fields for case in bad_values(f)]
    edge = [py_literal(case) for f in spec.fields for case in edge_values(f)]
    disabled = []
    for operation, method, path in (
        ("create", "POST", ""),
        ("list", "GET", ""),
        ("get", "GET", "/{id}"),
        ("update", "PATCH", "/{id}"),
        ("delete", "DELETE", "/{id}"),
    ):
        if operation not in spec.operations:
            disabled.append((method, path))
    refs = [
        {
            "name": f.name,
            "to": f.to,
            "row": _row_class(f.to),
            "kebab": FeatureLayout(f.to).kebab,
        }
        for f in spec.fields
        if f.to is not None
    ]
    targets = []
    for to in spec.references:
        first = next(ref for ref in refs if ref["to"] == to)
        targets.append({**first, "first_field": first["name"]})
    columns, checks, sa_names = _columns(spec)
    rule_reqs = [
        rid
        for field in spec.fields
        for rid in field_requirements(field)
        if not rid.endswith(".required")
    ]
    return {
        **_common(request, layout),
        "row": _row_class(request.feature),
        "refs": refs,
        "ref_targets": targets,
        "columns": columns,
        "checks": checks,
        "sa_imports": ", ".join(sorted(sa_names)),
        "fields": fields,
        "enums": enums,
        "uses_date": bool(date_names),
        "date_fields": ", ".join(
            py_literal(f.name) for f in spec.fields if f.type in ("date", "datetime")
        ),
        "number_fields": ", ".join(
            py_literal(f.name) for f in spec.fields if f.type in ("int", "float")
        ),
        "date_imports": ", ".join(
            [*date_names, "timezone"] if "datetime" in date_names else date_names
        ),
        "datetime_fields": ", ".join(
            py_literal(f.name) for f in spec.fields if f.type == "datetime"
        ),
        "required_names": ", ".join(py_literal(name) for name in required),
        "required_names_list": required,
        "optional_names": [f.name for f in spec.fields if not f.required],
        "operations": list(spec.operations),
        "operations_doc": ", ".join(_OPERATION_DOC[op] for op in spec.operations),
        "has_item_routes": any(op in spec.operations for op in ("get", "update", "delete")),
        "valid": py_literal(valid),
        "changed": py_literal(changed),
        "required": py_literal(required),
        "optional": py_literal([f.name for f in spec.fields if not f.required]),
        "bad_cases": bad,
        "rule_reqs": ", ".join(py_literal(r) for r in rule_reqs),
        "required_reqs": ", ".join(py_literal(f"{name}.required") for name in required),
        "edge_cases": edge,
        "disabled": py_literal(disabled) if disabled else "",
    }


_OPERATION_DOC = {
    "create": "POST creates (201)",
    "list": "GET lists (`limit`, `offset`)",
    "get": "GET `/{id}` reads",
    "update": "PATCH `/{id}` changes some fields",
    "delete": "DELETE `/{id}` removes (204)",
}


def _row_class(feature: str) -> str:
    """The ORM class of a feature's table: `PetProfileRow` for `pet_profile`."""
    return FeatureLayout(feature).class_prefix + "Row"


_COLUMN_TYPES = {
    "int": "Integer",
    "float": "Float",
    "bool": "Boolean",
    "date": "Date",
    "datetime": "DateTime",
}


def _columns(spec: ResourceSpec) -> tuple[list[dict[str, str]], list[dict[str, str]], set[str]]:
    """Each field as a typed column, the CHECKs of its bounds and choices, the names to import."""
    columns: list[dict[str, str]] = []
    checks: list[dict[str, str]] = []
    names = {"Integer"}
    for field in spec.fields:
        python = "int" if field.type == "ref" else _PY_TYPES.get(field.type, "str")
        if field.type == "ref":
            column_type = f"ForeignKey({py_literal(f'{field.to}.id')})"
            names.add("ForeignKey")
        elif field.type == "enum":
            longest = max(len(choice) for choice in field.choices or ("",))
            column_type = f"String({longest})"
            names.add("String")
            allowed = ", ".join("'" + c.replace("'", "''") + "'" for c in field.choices or ())
            checks.append(_check(field.name, "choice", f'"{field.name}" IN ({allowed})'))
        elif field.type == "str":
            column_type = f"String({field.max_length})" if field.max_length is not None else "Text"
            names.add("String" if field.max_length is not None else "Text")
            if field.min_length:
                rule = f'length("{field.name}") >= {field.min_length}'
                checks.append(_check(field.name, "min_length", rule))
        else:
            column_type = _COLUMN_TYPES[field.type]
            names.add(column_type)
        if field.ge is not None:
            checks.append(_check(field.name, "ge", f'"{field.name}" >= {field.ge!r}'))
        if field.le is not None:
            checks.append(_check(field.name, "le", f'"{field.name}" <= {field.le!r}'))
        columns.append(
            {
                "name": field.name,
                "annotation": python if field.required else f"{python} | None",
                "arguments": f"{column_type}, nullable={not field.required}",
            }
        )
    if checks:
        names.add("CheckConstraint")
    return columns, checks, names


def _check(name: str, rule: str, sql: str) -> dict[str, str]:
    literal = f"'{sql}'" if "'" not in sql and "\\" not in sql else py_literal(sql)
    return {"name": py_literal(f"{name}_{rule}"), "sql": literal}


def _rules(field: FieldSpec) -> list[str]:
    # JSON's types as the schema says them: no 0 for a bool, no 5 for a str (see also the
    # models' before-validators for numbers and dates).
    rules = ["strict=True"] if field.type in ("str", "bool") else []
    for key in ("ge", "le", "min_length", "max_length"):
        value = getattr(field, key)
        if value is not None:
            rules.append(f"{key}={value!r}")
    if field.description:
        rules.append(f"description={py_literal(field.description)}")
    return rules


def _default_suffix(rules: list[str], *, required: bool) -> str:
    arguments = ([] if required else ["default=None"]) + rules
    if not rules:
        return "" if required else " = None"
    return f" = Field({', '.join(arguments)})"


def _docstring_safe(text: str) -> str:
    cleaned = text.replace("\\", "\\\\").replace('"""', "'''").strip()
    return cleaned if len(cleaned) <= 1000 else cleaned[:997] + "..."
