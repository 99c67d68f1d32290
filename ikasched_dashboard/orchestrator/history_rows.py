"""The execution-history record of a job run that a batch ended (docs/semantics.md §14), and
the notification events of a batch's changes (§15).

A run ended in a batch when the job's new row is finished (COMPLETE, SKIPPED_COMPLETE, ERROR,
KILLED) with an end time the previous row did not have, and the batch learned run facts for it
(a process event, a kill). A job that was never started and only skipped to complete is no
run. The record is built from the job row the batch writes, so it says exactly what the job
shows; the pid, OS user and log locations come from the run's last process event.
"""

from __future__ import annotations

from ikasched.v1 import events_pb2
from ikasched_dashboard.store.batches import RunFacts
from ikasched_dashboard.store.history import JobRun
from ikasched_dashboard.store.instances import InstanceRow, JobInstanceRow
from ikasched_dashboard.store.notifications import NotificationEvent

__all__ = ["ended_run", "instance_event", "job_events"]

_FINISHED = frozenset({"COMPLETE", "SKIPPED_COMPLETE", "ERROR", "KILLED"})
_FAILED = frozenset({"ERROR", "KILLED"})


def ended_run(
    instance: InstanceRow,
    old: JobInstanceRow | None,
    new: JobInstanceRow,
    facts: RunFacts | None,
) -> JobRun | None:
    """The history record of the run `new` ends (None: this change ends no run)."""
    if facts is None or new.status not in _FINISHED or not new.end_time:
        return None
    if old is not None and old.status == new.status and old.end_time == new.end_time:
        return None
    if not new.start_time and facts.event is None and new.status not in _FAILED:
        return None  # skipped to complete: nothing ran
    pid, user, out, err = new.pid, "", "", ""
    if new.last_event:
        ev = events_pb2.ContextualisedScheduledProcessEvent()
        try:
            ev.ParseFromString(new.last_event)
        except Exception:  # a record never waits on a damaged blob
            ev.Clear()
        pid = int(ev.pid) or pid
        user, out, err = ev.user, ev.result_output, ev.result_error
    return JobRun(
        plan_name=instance.plan_name,
        plan_version=instance.plan_version,
        owner=instance.owner,
        instance_id=new.instance_id,
        child_context=new.child_context,
        job_identifier=new.job_identifier,
        job_name=new.job_name,
        job_type=new.job_type,
        agent_name=new.agent_name,
        agent_hostname=new.agent_hostname,
        attempt=new.attempts,
        status=new.status,
        start_time=new.start_time,
        end_time=new.end_time,
        return_code=new.return_code,
        outcome_reason=new.outcome_reason,
        pid=pid,
        run_as_user=user,
        output_path=out,
        error_path=err,
    )


def job_events(
    instance: InstanceRow, old: JobInstanceRow | None, new: JobInstanceRow, run: JobRun | None
) -> list[NotificationEvent]:
    """The notification events of a job's change: it started (START), its run ended
    (COMPLETE or ERROR), or both when the start and the end came in one batch."""
    started = new.start_time > 0 and (old is None or old.start_time != new.start_time)
    events = []
    if started and (new.status == "RUNNING" or run is not None):
        events.append(_job_event("START", instance, new, new.start_time, ended=False))
    if run is not None:
        kind = "ERROR" if run.status in _FAILED else "COMPLETE"
        events.append(_job_event(kind, instance, new, run.end_time, ended=True))
    return events


def _job_event(
    kind: str, instance: InstanceRow, new: JobInstanceRow, time: int, *, ended: bool
) -> NotificationEvent:
    return NotificationEvent(
        kind=kind,
        plan_name=instance.plan_name,
        instance_id=new.instance_id,
        time=time,
        status=new.status if ended else "RUNNING",
        job_identifier=new.job_identifier,
        child_context=new.child_context,
        agent_name=new.agent_name,
        attempt=new.attempts,
        start_time=new.start_time,
        end_time=new.end_time if ended else 0,
        return_code=new.return_code if ended else 0,
        reason=new.outcome_reason if ended else "",
    )


def instance_event(old: InstanceRow, new: InstanceRow) -> NotificationEvent | None:
    """INSTANCE_ENDED when an instance first finishes (COMPLETE or ENDED)."""
    if old.end_time or not new.end_time:
        return None
    return NotificationEvent(
        kind="INSTANCE_ENDED",
        plan_name=new.plan_name,
        instance_id=new.id,
        time=new.end_time,
        status=new.status,
        start_time=new.start_time,
        end_time=new.end_time,
    )
