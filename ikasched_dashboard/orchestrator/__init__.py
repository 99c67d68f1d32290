"""The dashboard's orchestrator (see core.py's module doc for the batch and recovery rules)."""

from ikasched_dashboard.orchestrator.core import (
    CompiledPlan,
    Orchestrator,
    OrchestratorSettings,
)

__all__ = ["CompiledPlan", "Orchestrator", "OrchestratorSettings"]
