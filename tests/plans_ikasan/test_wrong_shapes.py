"""Every value of the Ikasan fixtures replaced by values of the wrong shape: the import refuses
each with InvalidArgument naming the file (never a TypeError that would reach a client as
INTERNAL). Before the fix, `contexts: 3`, `scheduledJobs: 3` or `contextParameters: 3` in a
template crashed the import."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.ikasan_import import import_ikasan

from .test_import import _files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ikasan"
WRONG: tuple[Any, ...] = (3, "x", {}, [3], None, [{}], {"a": 1}, -1, True, [[1]])


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        yield (*path, key)
        yield from _paths(value, (*path, key))


def _variants(doc: Any) -> Iterator[tuple[tuple[Any, ...], Any, Any]]:
    for path in _paths(doc):
        for wrong in WRONG:
            changed = copy.deepcopy(doc)
            target = changed
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = wrong
            yield path, wrong, changed


def _refused_or_converted(files: list[tuple[str, bytes]], name: str) -> None:
    try:
        import_ikasan(files)
    except InvalidArgument as exc:
        assert str(exc).startswith(name), str(exc)


@pytest.mark.parametrize("fixture", ["contexts/relay.json", "bundle/templates/nightly.json"])
def test_a_template_of_the_wrong_shape_is_refused_cleanly(fixture: str) -> None:
    doc = json.loads((FIXTURES / fixture).read_text())
    others = [f for f in _files() if not f[0].startswith("templates/")]
    for _path, _wrong, changed in _variants(doc):
        files = [("t.json", json.dumps(changed).encode())]
        if fixture.startswith("bundle/"):
            files += others
        _refused_or_converted(files, "t.json")


@pytest.mark.parametrize("job", ["internal/left.json", "quartz/trigger.json", "file/incoming.json"])
def test_a_job_file_of_the_wrong_shape_is_refused_cleanly(job: str) -> None:
    files = dict(_files())
    doc = json.loads(files[f"jobs/{job}"])
    for _path, _wrong, changed in _variants(doc):
        files[f"jobs/{job}"] = json.dumps(changed).encode()
        try:
            import_ikasan(list(files.items()))
        except InvalidArgument as exc:
            assert str(exc).startswith(("jobs/", "templates/nightly.json")), str(exc)
