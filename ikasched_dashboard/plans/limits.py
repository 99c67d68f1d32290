"""Size limits of a job plan: what the validator refuses, and why it stops looking deeper."""

from __future__ import annotations

#: Most job occurrences (entries of scheduledJobs, all contexts together) in one plan.
MAX_JOBS = 10_000
#: Most contexts (the plan and all its child contexts) in one plan.
MAX_CONTEXTS = 10_000
#: Deepest nesting of contexts; the plan itself is depth 1.
MAX_CONTEXT_DEPTH = 32
#: Deepest nesting of logical groupings inside one dependency.
MAX_GROUPING_DEPTH = 32
#: Longest name (plan, context, job identifier, agent, job name, lock, parameter).
MAX_NAME_LENGTH = 200
#: Exit statuses a process can return on the platforms agents support.
MIN_RETURN_CODE, MAX_RETURN_CODE = 0, 255
#: Latest instant the dashboard can represent (9999-12-31T23:59:59.999Z, epoch milliseconds):
#: every epoch time in a plan or a request lies in 0..MAX_EPOCH_MS.
MAX_EPOCH_MS = 253_402_300_799_999
#: Longest duration (TTL, grace, timeout, delay, tolerance...): 100 years, so that now plus a
#: duration is still an instant the dashboard can represent.
MAX_DURATION_SECONDS = 100 * 366 * 24 * 3600
MAX_DURATION_MS = MAX_DURATION_SECONDS * 1000
#: Largest capacity or weight of a job lock.
MAX_LOCK_COUNT = 2**31 - 1

# Sizes bound what one link message to an agent carries (docs/architecture.md §4.9): an
# instance's activation holds its parameters, an initiation its job's, provisioning its jobs.
#: Longest parameter value (a plan's default or an operator's), in UTF-8 bytes.
MAX_PARAMETER_VALUE_BYTES = 64 * 1024
#: Most parameters one request (new instance, update, reset, manual run) gives.
MAX_PARAMETERS = 1000
#: Most bytes of parameter values, together: in one request, or the defaults of one plan.
MAX_PARAMETER_BYTES = 1024 * 1024
#: Largest job (its serialized SchedulerJob: command line, environment, parameters ...).
MAX_JOB_BYTES = 256 * 1024
#: Largest plan, serialized.
MAX_PLAN_BYTES = 8 * 1024 * 1024
