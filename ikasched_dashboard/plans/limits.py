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
