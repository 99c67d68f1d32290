"""Reading plan documents: YAML or JSON text to plain Python values, and the load problems.

Syntax errors carry their line and column; a key given twice in one mapping is a problem (YAML
and JSON would silently keep the last one).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from ikasched_common.errors import InvalidArgument

Format = Literal["yaml", "json"]


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """One problem in a plan document: where (path as written; "" = the whole document) and what."""

    path: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.path) if part)
        return f"{where}: {self.message}" if where else self.message


class PlanLoadError(InvalidArgument):
    """A plan document could not be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[LoadProblem]) -> None:
        self.problems: tuple[LoadProblem, ...] = tuple(problems)
        lines = [str(p) for p in self.problems]
        count = len(lines)
        head = "1 problem" if count == 1 else f"{count} problems"
        super().__init__(f"plan not loaded, {head}:\n  " + "\n  ".join(lines))
        self.field = self.problems[0].path if self.problems else ""


# libyaml's parser when PyYAML has it (about 10x faster on large plans), else pure Python.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that records duplicate mapping keys instead of silently keeping the last."""

    duplicates: list[str]


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            continue  # unhashable keys are reported by the normaliser as bad field names
        if key in seen:
            line = key_node.start_mark.line + 1
            loader.duplicates.append(f"line {line}: key {key!r} appears twice in one mapping")
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    return mapping


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _too_deep(source: str) -> PlanLoadError:
    return PlanLoadError([LoadProblem("", "the document nests too deeply", source)])


def _too_long_number(exc: ValueError, source: str) -> PlanLoadError:
    why = str(exc).split(";")[0]
    return PlanLoadError([LoadProblem("", f"holds a number that cannot be read: {why}", source)])


def _guess_format(text: str) -> Format:
    return "json" if text.lstrip().startswith(("{", "[")) else "yaml"


def parse_plan_document(text: str, *, fmt: Format | None = None, source: str = "") -> object:
    """Parse YAML or JSON text into plain Python values; syntax errors carry line and column.

    Without a format, text starting with "{" or "[" is read as JSON, and as YAML (a flow
    mapping such as ``{name: p}``) if it is not valid JSON.
    """
    if fmt is None and _guess_format(text) == "json":
        try:
            return _parse(text, "json", source)
        except PlanLoadError as json_error:
            if not json_error.problems[0].message.startswith("invalid JSON"):
                raise
            try:
                return _parse(text, "yaml", source)
            except PlanLoadError:
                raise json_error from None
    return _parse(text, fmt or "yaml", source)


def _parse(text: str, fmt: Format, source: str) -> object:
    if fmt == "json":
        duplicates: list[str] = []

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, value in items:
                if key in out:
                    duplicates.append(f"key {key!r} appears twice in one object")
                out[key] = value
            return out

        try:
            data = json.loads(text, object_pairs_hook=pairs)
        except RecursionError:
            raise _too_deep(source) from None
        except json.JSONDecodeError as exc:
            raise PlanLoadError(
                [
                    LoadProblem(
                        "",
                        f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                        source,
                    )
                ]
            ) from None
        except ValueError as exc:  # an integer past Python's digit limit
            raise _too_long_number(exc, source) from None
    else:
        loader = _UniqueKeyLoader(text)
        loader.duplicates = duplicates = []
        try:
            documents = []
            while loader.check_data():
                documents.append(loader.get_data())
        except RecursionError:
            raise _too_deep(source) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise PlanLoadError(
                [LoadProblem("", f"invalid YAML{where}: {problem}", source)]
            ) from None
        except ValueError as exc:  # an integer past Python's digit limit
            raise _too_long_number(exc, source) from None
        finally:
            loader.dispose()
        if len(documents) > 1:
            raise PlanLoadError(
                [
                    LoadProblem(
                        "",
                        f"holds {len(documents)} YAML documents; write one plan per file",
                        source,
                    )
                ]
            )
        data = documents[0] if documents else None
    if duplicates:
        raise PlanLoadError(LoadProblem("", d, source) for d in duplicates)
    return data
