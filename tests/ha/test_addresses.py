"""An agent's list of dashboard addresses (docs/architecture.md §12)."""

from __future__ import annotations

import pytest

from ikasched_common.config import AgentConfig, DashboardConfig
from ikasched_common.errors import InvalidArgument


def test_an_agent_takes_several_dashboard_addresses() -> None:
    AgentConfig(name="a1", dashboard="127.0.0.1:50051, 127.0.0.1:50052").validate()


def test_a_bad_address_in_the_list_names_the_field_and_the_address() -> None:
    with pytest.raises(InvalidArgument, match="'nowhere'") as caught:
        AgentConfig(name="a1", dashboard="127.0.0.1:50051,nowhere").validate()
    assert caught.value.field == "dashboard"


def test_a_lease_shorter_than_a_second_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="at least 1000") as caught:
        DashboardConfig(lease_ms=500).validate()
    assert caught.value.field == "lease_ms"


def test_an_advertised_address_must_be_host_port() -> None:
    with pytest.raises(InvalidArgument) as caught:
        DashboardConfig(advertise="db-host").validate()
    assert caught.value.field == "advertise"
