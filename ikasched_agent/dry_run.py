"""Dry runs: an initiation marked `dry_run` gets no process; its start is reported at once
and its end after a simulated execution time, failing as the plan's dry-run parameters say
(docs/semantics.md, dry runs)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from ikasched.v1 import common_pb2
from ikasched_agent.events import RunEvents
from ikasched_agent.process import Phase, Run
from ikasched_agent.protocol import ProcessEventMessage

__all__ = ["DryRuns", "simulated_outcome"]

Report = Callable[[ProcessEventMessage, Run | None], None]


def simulated_outcome(
    params: common_pb2.DryRunParameters, rng: random.Random
) -> tuple[float, bool]:
    """How long the simulated run takes (seconds) and whether it fails."""
    if params.fixed_execution_time_millis > 0:
        millis = float(params.fixed_execution_time_millis)
    else:
        low = max(0, params.min_execution_time_millis)
        high = max(low, params.max_execution_time_millis)
        millis = rng.uniform(low, high)
    fail = params.error or rng.random() * 100 < params.job_error_percentage
    return millis / 1000, bool(fail)


class DryRuns:
    """Starts and ends simulated runs through the executor's reporter."""

    def __init__(
        self, events: RunEvents, report: Report, clock_ms: Callable[[], int], rng: random.Random
    ) -> None:
        self._events = events
        self._report = report
        self._clock_ms = clock_ms
        self._rng = rng

    def start(self, run: Run) -> None:
        """Report the run started now and schedule its simulated end."""
        run.phase = Phase.SIMULATING
        run.fire_time = self._clock_ms()
        seconds, fail = simulated_outcome(run.init.dry_run_parameters, self._rng)
        details = self._events.details(run) + "\ndry run: no process"
        self._report(
            self._events.event(
                run, job_starting=True, fire_time=run.fire_time, execution_details=details
            ),
            None,
        )
        run.sim_task = asyncio.get_running_loop().create_task(
            self._end(run, seconds, fail, details)
        )

    async def _end(self, run: Run, seconds: float, fail: bool, details: str) -> None:
        await asyncio.sleep(seconds)
        run.phase = Phase.ENDED
        self._report(
            self._events.event(
                run,
                return_code=1 if fail else 0,
                successful=not fail,
                outcome_reason="dry run: simulated failure" if fail else "",
                fire_time=run.fire_time,
                completion_time=self._clock_ms(),
                execution_details=details,
            ),
            run,
        )
