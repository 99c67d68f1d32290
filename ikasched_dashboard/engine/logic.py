"""Ikasan's dependency truth rules and context status rule, as pure functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ikasched_dashboard.engine.model import ContextDef, Grouping, Status
from ikasched_dashboard.engine.state import JobKey, JobState

SATISFIED_STATUSES = frozenset({Status.COMPLETE, Status.SKIPPED_COMPLETE})
# "done" for a context's completion; SKIPPED is done but does not satisfy logic
DONE_STATUSES = frozenset({Status.COMPLETE, Status.SKIPPED, Status.SKIPPED_COMPLETE})
ACTIVE_STATUSES = frozenset({Status.RUNNING, Status.COMPLETE, Status.LOCK_QUEUED})


# Status checks below compare identities: hashing an Enum member runs Python code, and these
# run for every job of every recomputed context.
_COMPLETE = Status.COMPLETE
_SKIPPED_COMPLETE = Status.SKIPPED_COMPLETE
_SKIPPED = Status.SKIPPED
_ERROR = Status.ERROR
_RUNNING = Status.RUNNING
_LOCK_QUEUED = Status.LOCK_QUEUED


def is_satisfied(job: JobState) -> bool:
    """COMPLETE, SKIPPED_COMPLETE, or an acknowledged ERROR."""
    status = job.status
    return (
        status is _COMPLETE
        or status is _SKIPPED_COMPLETE
        or (status is _ERROR and job.error_acknowledged)
    )


def is_done(job: JobState) -> bool:
    status = job.status
    return (
        status is _COMPLETE
        or status is _SKIPPED_COMPLETE
        or status is _SKIPPED
        or (status is _ERROR and job.error_acknowledged)
    )


def evaluate(grouping: Grouping, satisfied: Callable[[str], bool]) -> bool:
    """(and || or) && !not, AND-ed with the nested grouping.

    and: non-empty and all satisfied; or: any satisfied; not: any satisfied makes the level
    false. So a level with only `not`, or only a nested grouping, is false.
    """
    # loops written out: this runs for every candidate of every event
    base = False
    all_of = grouping.all_of
    if all_of:
        base = True
        for o in all_of:
            if not (satisfied(o) if isinstance(o, str) else evaluate(o, satisfied)):
                base = False
                break
    if not base:
        for o in grouping.any_of:
            if satisfied(o) if isinstance(o, str) else evaluate(o, satisfied):
                base = True
                break
        if not base:
            return False
    for o in grouping.none_of:
        if satisfied(o) if isinstance(o, str) else evaluate(o, satisfied):
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
    """docs/semantics.md §4.3, in precedence order ERROR > COMPLETE > RUNNING > WAITING."""
    any_error = False
    any_active = False
    for key in cdef.flag_keys:  # jobs driven from other contexts are left out
        job = jobs[key]
        status = job.status
        if status is _ERROR:
            if job.error_acknowledged:
                any_active = True
            else:
                any_error = True
                break
        elif status is _RUNNING or status is _COMPLETE or status is _LOCK_QUEUED:
            any_active = True
    all_children_complete = True
    any_child_running_or_complete = False
    for child in child_statuses:
        if child is _ERROR:
            any_error = True
        if child is not _COMPLETE:
            all_children_complete = False
        if child is _RUNNING or child is _COMPLETE:
            any_child_running_or_complete = True
    if any_error:
        return Status.ERROR
    if (
        all_children_complete
        and all(is_done(jobs[k]) for k in cdef.outside_keys)
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
