"""Loading params.yaml into typed, frozen models, for any schema: validation with the key's name, variant
sections that inherit from a base section, budgets as plain key overrides, and a YAML editor that keeps comments.

The schema itself is assembled in `visionops.params` from the sections each family declares.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from visionops.core.errors import UserError

PARAMS_FILE = "params.yaml"
BUDGETS = ("tiny", "cpu", "gpu")

M = TypeVar("M", bound=BaseModel)


class Section(BaseModel):
    """A params.yaml section: unknown keys are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def inherit_variants(raw: Any, variants: dict[str, str]) -> Any:
    """Give each variant section (`robust_classifier`) every key of its base (`classifier`) that it does not set."""
    if not isinstance(raw, dict):
        return raw
    for variant, base in variants.items():
        inherited, own = raw.get(base) or {}, raw.get(variant) or {}
        if isinstance(inherited, dict) and isinstance(own, dict):
            raw = {**raw, variant: deep_merge(inherited, own)}
    return raw


def unknown_budget_keys(params: BaseModel, budgets: dict[str, dict[str, Any]]) -> list[str]:
    """Budget overrides that name no key of the params (`budgets.tiny: 'x.y'`)."""
    plain = params.model_dump(exclude={"budgets"})
    return [
        f"budgets.{budget}: '{key}'"
        for budget, overrides in budgets.items()
        for key in overrides
        if not has_key(plain, key)
    ]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = deep_merge(merged[key], value)
        merged[key] = value
    return merged


def has_key(tree: dict[str, Any], dotted: str) -> bool:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def describe(error: dict[str, Any], schema: type[BaseModel]) -> str:
    key = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        parent = error["loc"][:-1]
        model: Any = schema
        for part in parent:
            field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
            model = field.annotation if field is not None else None
        allowed = ", ".join(model.model_fields) if hasattr(model, "model_fields") else "see params.yaml"
        return f"unknown key '{key}' (allowed here: {allowed})"
    value = error.get("input")
    got = f" (got {value!r})" if not isinstance(value, dict) else ""
    return f"{key}: {error['msg']}{got}"


def validate(schema: type[M], raw: dict[str, Any], source: str = PARAMS_FILE) -> M:
    """Validate a params tree against `schema`; raise UserError naming the first bad key."""
    if not isinstance(raw, dict):
        raise UserError(f"{source} must hold a mapping of sections, not {type(raw).__name__}")
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(describe(e, schema) for e in exc.errors()[:3])
        raise UserError(f"{source}: {problems}. Fix the value in {source}.") from None


class _UniqueKeys(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML's safe loader, except that a key given twice is an error (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' is given twice (line {key_node.start_mark.line + 1})", None
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def load(schema: type[M], path: str | Path = PARAMS_FILE) -> M:
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeys)  # noqa: S506 (a safe loader)
    except FileNotFoundError:
        raise UserError(f"{path} not found: run from the project root or pass --params") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return validate(schema, raw or {}, str(path))


def parse_override(text: str) -> tuple[str, Any]:
    """'classifier.epochs=5' -> ('classifier.epochs', 5), the value read as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UserError(f"override '{text}' must look like section.key=value")
    return key.strip(), yaml.safe_load(value)


def apply_overrides(
    schema: type[M], path: str | Path, overrides: dict[str, Any], check: Callable[[M], None] | None = None
) -> M:
    """Write key overrides into params.yaml, keeping its comments; validate (and `check`) before anything is
    written."""
    from ruamel.yaml import YAML

    from visionops.core.io import atomic_write_text

    path = Path(path)
    from ruamel.yaml import YAMLError

    rt = YAML()
    rt.preserve_quotes = True
    try:
        doc = rt.load(path.read_text())
    except YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path} is not valid YAML: {problem}; fix it before overriding keys") from None
    for dotted, value in overrides.items():
        node = doc
        *parents, leaf = dotted.split(".")
        for part in parents:
            if part not in node or not hasattr(node[part], "keys"):
                raise UserError(f"unknown key '{dotted}' in override: params.yaml has no section '{part}'")
            node = node[part]
        if leaf not in node:
            raise UserError(f"unknown key '{dotted}' in override (allowed here: {', '.join(node)})")
        node[leaf] = value
    from io import StringIO

    buffer = StringIO()
    rt.dump(doc, buffer)
    params = validate(schema, yaml.safe_load(buffer.getvalue()), str(path))
    if check is not None:
        check(params)
    atomic_write_text(path, buffer.getvalue())
    return params


def budget_overrides(params: Any, budget: str) -> dict[str, Any]:
    if budget not in params.budgets:
        raise UserError(f"unknown budget '{budget}' (allowed: {', '.join(params.budgets) or 'none defined'})")
    return dict(params.budgets[budget])


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}, for logging params to MLflow."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
