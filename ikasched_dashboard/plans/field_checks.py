"""Field checks of a plan's elements: names, time fields (cron, zone, blackouts), parameters,
and the fields of each job type.

`FieldChecks` is the reporting half of the validator: it knows the plan index and the list of
problems found so far; plans.validation adds the structural checks on top.
"""

from __future__ import annotations

from collections.abc import Iterable

from ikasched.v1 import common_pb2, plan_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.limits import (
    MAX_NAME_LENGTH,
    MAX_PARAMETER_VALUE_BYTES,
    MAX_RETURN_CODE,
    MIN_RETURN_CODE,
)
from ikasched_dashboard.plans.plan_index import PlanIndex, join_path
from ikasched_dashboard.plans.problems import Severity, ValidationProblem

# --------------------------------------------------------------------------- Quartz time


def cron_problem(expression: str) -> str | None:
    """Why a Quartz cron expression is invalid, or None when it is valid."""
    from ikasched_common import quartz  # lazily: the CLI imports this module at start-up

    try:
        quartz.parse_cron(expression)
    except InvalidArgument as exc:
        return f"invalid Quartz cron {expression!r}: {exc}"
    return None


def zone_problem(name: str) -> str | None:
    """Why a timezone name is invalid, or None when it names an IANA zone."""
    from ikasched_common import quartz

    try:
        quartz.zone(name)
    except InvalidArgument as exc:
        return f"{exc.reason} (expected an IANA name such as 'Europe/London')"
    return None


class FieldChecks:
    """Reports problems into `out`; the checks of single fields and of each job type."""

    out: list[ValidationProblem]
    index: PlanIndex

    # -- reporting
    def error(self, path: str, message: str) -> None:
        self.out.append(ValidationProblem(path, message, Severity.ERROR))

    def warning(self, path: str, message: str) -> None:
        self.out.append(ValidationProblem(path, message, Severity.WARNING))

    def name_length(self, path: str, name: str, what: str) -> None:
        if len(name) > MAX_NAME_LENGTH:
            self.error(
                path,
                f"{what} is {len(name)} characters long; at most {MAX_NAME_LENGTH} "
                "(limit MAX_NAME_LENGTH)",
            )

    def cron(self, path: str, expression: str) -> None:
        problem = cron_problem(expression)
        if problem:
            self.error(path, problem)

    def zone(self, path: str, name: str) -> None:
        if name:
            problem = zone_problem(name)
            if problem:
                self.error(path, problem)

    def not_negative(self, path: str, value: int, what: str) -> None:
        if value < 0:
            self.error(path, f"{what} must not be negative, got {value}")

    def blackouts(
        self, prefix: str, crons: Iterable[str], ranges: Iterable[common_pb2.DateTimeRange]
    ) -> None:
        for i, expression in enumerate(crons):
            self.cron(join_path(prefix, f"blackoutWindowCronExpressions[{i}]"), expression)
        for i, window in enumerate(ranges):
            path = join_path(prefix, f"blackoutWindowDateTimeRanges[{i}]")
            if window.start < 0 or window.end < 0:
                self.error(path, "start and end are epoch milliseconds and not negative")
            elif window.end < window.start:
                self.error(path, f"end {window.end} is before start {window.start}")

    def parameters(self, prefix: str, parameters: Iterable[common_pb2.ContextParameter]) -> None:
        seen: dict[str, int] = {}
        for i, parameter in enumerate(parameters):
            path = f"{prefix}[{i}]"
            if not parameter.name:
                self.error(join_path(path, "name"), "a parameter needs a name")
                continue
            self.name_length(join_path(path, "name"), parameter.name, "the parameter name")
            size = len(parameter.default_value.encode("utf-8"))
            if size > MAX_PARAMETER_VALUE_BYTES:
                self.error(
                    join_path(path, "defaultValue"),
                    f"the default value is {size} bytes; at most {MAX_PARAMETER_VALUE_BYTES}"
                    " (limit MAX_PARAMETER_VALUE_BYTES)",
                )
            if parameter.name in seen:
                first = f"{prefix}[{seen[parameter.name]}]"
                self.error(
                    join_path(path, "name"),
                    f"parameter {parameter.name!r} is declared twice "
                    f"at this level (first at {first})",
                )
            else:
                seen[parameter.name] = i

    def internal_event_driven_job(self, path: str, job: plan_pb2.SchedulerJob) -> None:
        command = job.internal_event_driven_job
        if not command.command_line.strip():
            self.error(join_path(path, "commandLine"), "a command job needs a command line")
        for i, code in enumerate(command.successful_return_codes):
            if not MIN_RETURN_CODE <= code <= MAX_RETURN_CODE:
                self.error(
                    join_path(path, f"successfulReturnCodes[{i}]"),
                    f"return code {code} is out of range ({MIN_RETURN_CODE}..{MAX_RETURN_CODE})",
                )
        for key, value in (
            ("minExecutionTime", command.min_execution_time),
            ("maxExecutionTime", command.max_execution_time),
        ):
            if value < -1:
                self.error(
                    join_path(path, key), f"must be -1 or 0 (unset) or positive, got {value}"
                )
        if 0 < command.max_execution_time < command.min_execution_time:
            self.warning(
                join_path(path, "maxExecutionTime"),
                f"is below minExecutionTime ({command.min_execution_time})",
            )
        self.days(join_path(path, "daysOfWeekToRun"), command.days_of_week_to_run)
        self.parameters(join_path(path, "contextParameters"), command.context_parameters)
        self.not_negative(join_path(path, "timeoutSeconds"), command.timeout_seconds, "the timeout")
        self.not_negative(join_path(path, "retry.count"), command.retry.count, "the retry count")
        self.not_negative(
            join_path(path, "retry.delaySeconds"), command.retry.delay_seconds, "the retry delay"
        )

    def days(self, path: str, days: Iterable[int]) -> None:
        for i, day in enumerate(days):
            if day == common_pb2.DAY_OF_WEEK_UNSPECIFIED:
                self.error(f"{path}[{i}]", "a day of week must be SUN..SAT (1..7)")

    def quartz_schedule_driven_job(self, path: str, job: plan_pb2.SchedulerJob) -> None:
        timed = job.quartz_schedule_driven_job
        self.timed(path, timed)
        self.days(join_path(path, "daysOfWeekToRun"), timed.days_of_week_to_run)

    def timed(
        self,
        path: str,
        timed: plan_pb2.QuartzScheduleDrivenJob | plan_pb2.FileEventDrivenJob,
    ) -> None:
        if not timed.cron_expression:
            self.error(
                join_path(path, "cronExpression"), "a time or file job needs a cron expression"
            )
        else:
            self.cron(join_path(path, "cronExpression"), timed.cron_expression)
        self.zone(join_path(path, "timeZone"), timed.time_zone)
        self.blackouts(
            path, timed.blackout_window_cron_expressions, timed.blackout_window_date_time_ranges
        )
        self.not_negative(
            join_path(path, "maxEagerCallbacks"), timed.max_eager_callbacks, "maxEagerCallbacks"
        )
        self.not_negative(
            join_path(path, "recoveryTolerance"), timed.recovery_tolerance, "the recovery tolerance"
        )
        self.not_negative(
            join_path(path, "misfireGraceSeconds"), timed.misfire_grace_seconds, "the misfire grace"
        )

    def file_event_driven_job(self, path: str, job: plan_pb2.SchedulerJob) -> None:
        watcher = job.file_event_driven_job
        self.timed(path, watcher)
        if not watcher.file_path:
            self.error(join_path(path, "filePath"), "a file job needs the directory to watch")
        if not watcher.filenames:
            self.error(
                join_path(path, "filenames"), "a file job needs at least one filename pattern"
            )
        for i, pattern in enumerate(watcher.filenames):
            if not pattern:
                self.error(join_path(path, f"filenames[{i}]"), "an empty pattern matches nothing")
        if watcher.sla_cron_expression:
            self.cron(join_path(path, "slaCronExpression"), watcher.sla_cron_expression)
        self.not_negative(
            join_path(path, "minFileAgeSeconds"),
            watcher.min_file_age_seconds,
            "the minimum file age",
        )
        self.not_negative(
            join_path(path, "directoryDepth"), watcher.directory_depth, "the directory depth"
        )
        for i, pair in enumerate(watcher.replacement_pairs):
            where = join_path(path, f"replacementPairs[{i}]")
            if not pair.replacement_token:
                self.error(join_path(where, "replacementToken"), "a replacement needs a token")
            if not pair.job_plan_parameter_name:
                self.error(
                    join_path(where, "jobPlanParameterName"), "a replacement needs a parameter"
                )
            elif pair.job_plan_parameter_name not in self.index.parameters:
                self.warning(
                    join_path(where, "jobPlanParameterName"),
                    f"no context declares parameter {pair.job_plan_parameter_name!r}",
                )

    def _virtual(self, path: str, job: plan_pb2.SchedulerJob) -> None:
        """Virtual jobs resolve inside the dashboard; nothing of their own to check."""

    global_event_job = context_start_job = context_terminal_job = _virtual
    local_event_job = bridging_job = _virtual
