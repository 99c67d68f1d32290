"""Ikasan's dependency truth rules and context status rule, as pure functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ikasched_dashboard.engine.model import ContextDef, Grouping, Operand, Status
from ikasched_dashboard.engine.state import JobKey, JobState

SATISFIED_STATUSES = frozenset({Status.COMPLETE, Status.SKIPPED_COMPLETE})
# "done" for a context's completion; SKIPPED is done but does not satisfy logic
DONE_STATUSES = frozenset({Status.COMPLETE, Status.SKIPPED, Status.SKIPPED_COMPLETE})
ACTIVE_STATUSES = frozenset({Status.RUNNING, Status.COMPLETE, Status.LOCK_QUEUED})


def is_satisfied(job: JobState) -> bool:
    """COMPLETE, SKIPPED_COMPLETE, or an acknowledged ERROR."""
    status = job.status
    return status in SATISFIED_STATUSES or (status is Status.ERROR and job.error_acknowledged)


def is_done(job: JobState) -> bool:
    status = job.status
    return status in DONE_STATUSES or (status is Status.ERROR and job.error_acknowledged)


def evaluate(grouping: Grouping, satisfied: Callable[[str], bool]) -> bool:
    """(and || or) && !not, AND-ed with the nested grouping.

    and: non-empty and all satisfied; or: any satisfied; not: any satisfied makes the level
    false. So a level with only `not`, or only a nested grouping, is false.
    """

    def op(o: Operand) -> bool:
        return satisfied(o) if isinstance(o, str) else evaluate(o, satisfied)

    all_of = grouping.all_of
    base = (bool(all_of) and all(op(o) for o in all_of)) or any(op(o) for o in grouping.any_of)
    if not base or any(op(o) for o in grouping.none_of):
        return False
    nested = grouping.nested
    return nested is None or evaluate(nested, satisfied)


def satisfied_in(jobs: Mapping[JobKey, JobState], context: str) -> Callable[[str], bool]:
    def sat(identifier: str) -> bool:
        return is_satisfied(jobs[(identifier, context)])

    return sat


def context_status(
    cdef: ContextDef,
    jobs: Mapping[JobKey, JobState],
    child_statuses: Iterable[Status],
) -> Status:
    """Reference §4.3, in precedence order ERROR > COMPLETE > RUNNING > WAITING."""
    name = cdef.name
    external = cdef.external_jobs
    any_error = False
    any_active = False
    for ident in cdef.jobs:
        if ident in external:
            continue
        job = jobs[(ident, name)]
        status = job.status
        if status is Status.ERROR:
            if job.error_acknowledged:
                any_active = True
            else:
                any_error = True
        elif status in ACTIVE_STATUSES:
            any_active = True
    all_children_complete = True
    any_child_running_or_complete = False
    for child in child_statuses:
        if child is Status.ERROR:
            any_error = True
        if child is not Status.COMPLETE:
            all_children_complete = False
        if child is Status.RUNNING or child is Status.COMPLETE:
            any_child_running_or_complete = True
    if any_error:
        return Status.ERROR
    if (
        all_children_complete
        and all(is_done(jobs[(j, name)]) for j in cdef.jobs_outside_logic)
        and _all_logic_satisfied(cdef, jobs)
    ):
        return Status.COMPLETE
    if any_active or any_child_running_or_complete:
        return Status.RUNNING
    return Status.WAITING


def _all_logic_satisfied(cdef: ContextDef, jobs: Mapping[JobKey, JobState]) -> bool:
    name = cdef.name
    external = cdef.external_jobs

    def sat(identifier: str) -> bool:
        # jobs whose predecessors sit outside this context count as COMPLETE here
        return identifier in external or is_satisfied(jobs[(identifier, name)])

    for i in cdef.logic_dependencies:
        grouping = cdef.dependencies[i].grouping
        if grouping is not None and not evaluate(grouping, sat):
            return False
    return True
