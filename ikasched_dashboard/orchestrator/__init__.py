"""The dashboard's orchestrator (see pipeline.py's module doc for the batch rules).

orchestration.py  the Orchestrator and its API
pipeline.py       the consumer: peek, build, commit, settle (pipelined)
steps.py          steps, batches and the layered states a step sees
interpreter.py    an input's engine effects -> audits, facts, outbox rows, timers
commit.py         a batch's rows, written in one transaction (store/batches.py)
retries.py        retry timers; recovery.py: the start's rebuild; plans.py: compiled plans
"""

from ikasched_dashboard.orchestrator.orchestration import Orchestrator, OrchestratorSettings
from ikasched_dashboard.orchestrator.steps import CompiledPlan

__all__ = ["CompiledPlan", "Orchestrator", "OrchestratorSettings"]
