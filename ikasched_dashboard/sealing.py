"""Secret parameter values sealed at rest on the dashboard, opened only at the link boundary.

Plans are stored with every secret default sealed (`seal_plan`); values an operator gives for
secret parameters (new instance, parameter update, reset, manual run) are sealed before they
reach the orchestrator (`seal_pairs`). So plans, instance snapshots, job rows, audit rows and
outbox rows only ever hold `enc:v1:...`, and the engine passes those strings through.

`SecretOpeningOutbox` wraps an agent's link outbox: the bytes it hands to the link for sending
have their sealed parameter values opened (and the parameters marked secret, so the agent
masks them in what it reports). The agent needs the plain value for the job's environment; TLS
protects it on the wire. Only messages that contain the sealed prefix are parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ikasched.v1 import agent_pb2, plan_pb2
from ikasched_common.errors import SecretError
from ikasched_common.link import Outbox, OutboxPosition, PendingItem, SequencedItem
from ikasched_common.secrets import SecretBox, is_sealed
from ikasched_dashboard.plans.validation import job_identifier

SEALED_MARK = b"enc:v1:"
_PARAMETER_VALUE = {
    "ikasched.v1.ContextParameter": "default_value",
    "ikasched.v1.ContextParameterInstance": "value",
}

Pairs = tuple[tuple[str, str], ...]


def _plan_parameters(plan: plan_pb2.Context, here: str = "") -> Iterator[tuple[str, Any]]:
    """(place key, ContextParameter) of every parameter a plan declares, nested ones too."""
    where = f"{here}/{plan.name}"
    for p in plan.context_parameters:
        yield f"{where}#{p.name}", p
    for job in plan.scheduled_jobs:
        if job.HasField("internal_event_driven_job"):
            for p in job.internal_event_driven_job.context_parameters:
                yield f"{where}@{job_identifier(job)}#{p.name}", p
    for child in plan.contexts:
        yield from _plan_parameters(child, where)


def secret_names(plan: plan_pb2.Context) -> frozenset[str]:
    """Names of every parameter the plan marks secret (anywhere in it)."""
    return frozenset(p.name for _key, p in _plan_parameters(plan) if p.secret)


def seal_plan(plan: plan_pb2.Context, previous: plan_pb2.Context | None, box: SecretBox) -> None:
    """Seal, in place, every secret default. A value equal to the previous version's keeps
    that sealed text, so provisioning the same plan again changes nothing."""
    old: dict[str, str] = {}
    if previous is not None:
        old = {
            k: p.default_value
            for k, p in _plan_parameters(previous)
            if p.secret and is_sealed(p.default_value)
        }
    for key, p in _plan_parameters(plan):
        value = p.default_value
        if not p.secret or not value or is_sealed(value):
            continue
        before = old.get(key)
        if before is not None and _opens_to(box, before, p.name, value):
            p.default_value = before
        else:
            p.default_value = box.seal(value, aad=p.name)


def _opens_to(box: SecretBox, sealed: str, name: str, value: str) -> bool:
    try:
        return box.open(sealed, aad=name) == value
    except SecretError:
        return False


def seal_pairs(
    pairs: Iterable[tuple[str, str]], secrets: frozenset[str], box: SecretBox | None
) -> Pairs:
    """(name, value) pairs with the values of secret names sealed (aad: the name)."""
    out = tuple(pairs)
    if box is None or not secrets:
        return out
    return tuple(
        (n, box.seal(v, aad=n) if n in secrets and v and not is_sealed(v) else v) for n, v in out
    )


def open_message(message: Message, box: SecretBox) -> bool:
    """Open, in place, every sealed parameter value and mark it secret; True if any was."""
    return _walk(message, box)


def _walk(message: Message, box: SecretBox) -> bool:
    guarded = _PARAMETER_VALUE.get(message.DESCRIPTOR.full_name)
    if guarded is not None:
        value = str(getattr(message, guarded))
        if not is_sealed(value):
            return False
        # only the two parameter types reach here; both have name and secret
        param: Any = message
        setattr(param, guarded, box.open(value, aad=str(param.name)))
        param.secret = True
        return True
    changed = False
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            if entry.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for item in value.values():
                    changed = _walk(item, box) or changed
        elif _is_repeated(field):
            for item in value:
                changed = _walk(item, box) or changed
        else:
            changed = _walk(value, box) or changed
    return changed


def _is_repeated(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(getattr(field, "label", 0) == FieldDescriptor.LABEL_REPEATED)


def open_payload(payload: bytes, box: SecretBox) -> bytes:
    """A DashboardMessage's bytes with sealed parameter values opened (unchanged if none)."""
    if SEALED_MARK not in payload:  # the common case costs one substring scan
        return payload
    message = agent_pb2.DashboardMessage.FromString(payload)
    if not open_message(message, box):
        return payload
    return message.SerializeToString()


class SecretOpeningOutbox:
    """An agent's link `Outbox` whose outgoing bytes carry opened secret values (see the
    module doc); every other call goes to the wrapped outbox unchanged."""

    def __init__(self, inner: Outbox, box: SecretBox) -> None:
        self._inner = inner
        self._box = box

    @property
    def inner(self) -> Outbox:
        return self._inner

    async def add(self, values: Sequence[bytes]) -> None:
        await self._inner.add(values)

    async def pending(self, limit: int) -> list[PendingItem]:
        items = await self._inner.pending(limit)
        return [PendingItem(i.key, open_payload(i.value, self._box)) for i in items]

    async def assign(self, keys: Sequence[int]) -> list[int]:
        return await self._inner.assign(keys)

    async def assigned_from(self, after_seq: int, limit: int) -> list[SequencedItem]:
        items = await self._inner.assigned_from(after_seq, limit)
        return [SequencedItem(i.seq, open_payload(i.value, self._box)) for i in items]

    async def acknowledge(self, up_to_seq: int) -> int:
        return await self._inner.acknowledge(up_to_seq)

    async def position(self) -> OutboxPosition:
        return await self._inner.position()

    async def reset_sequence(self, last_seq: int) -> int:
        return await self._inner.reset_sequence(last_seq)

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        return self._inner.listen(callback)

    def __getattr__(self, name: str) -> Any:
        # size(), notify(), agent_name ... of the concrete outbox
        return getattr(self._inner, name)


def seal_for_plan(
    box: SecretBox | None,
    plan: bytes,
    pairs: Iterable[tuple[str, str]],
    given_secret: frozenset[str] = frozenset(),
) -> Pairs:
    """`seal_pairs` with the secret names of a stored plan (its serialized Context), and the
    names the request itself marks secret (`given_secret`: sealed even if the plan does not
    declare them)."""
    out = tuple(pairs)
    if box is None or not out:
        return out
    return seal_pairs(out, secret_names(plan_pb2.Context.FromString(plan)) | given_secret, box)


def secret_given(params: Iterable[Any]) -> frozenset[str]:
    """Names of the ContextParameterInstance messages a request marks secret."""
    return frozenset(p.name for p in params if p.secret)
