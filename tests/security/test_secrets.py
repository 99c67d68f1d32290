"""Secret parameter values: sealing at rest, masking in output, the key file."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest
from google.protobuf import json_format

from ikasched.v1 import (
    common_pb2,
    events_pb2,
    instance_pb2,
    instance_service_pb2,
    plan_pb2,
    plan_service_pb2,
)
from ikasched_common.errors import FailedPrecondition, InvalidArgument, SecretError
from ikasched_common.secrets import (
    MASK,
    SEALED_PREFIX,
    SecretBox,
    decode_key,
    encode_key,
    generate_key,
    is_sealed,
    load_or_create_key_file,
    mask,
    mask_secret_parameters,
    open_secret_parameters,
    seal_secret_parameters,
)

SECRET = "hunter2-\u00e9-p@ss"


def _plan() -> plan_pb2.Context:
    """A plan with secret parameters at the root, in a child context, and on a job."""
    plan = plan_pb2.Context(name="P")
    plan.context_parameters.add(name="DB_PASSWORD", default_value=SECRET, secret=True)
    plan.context_parameters.add(name="REGION", default_value="eu-west")
    child = plan.contexts.add(name="child")
    child.context_parameters.add(name="API_KEY", default_value=SECRET + "-child", secret=True)
    job = child.scheduled_jobs.add(job_name="load")
    job.internal_event_driven_job.command_line = "load.sh"
    job.internal_event_driven_job.context_parameters.add(
        name="JOB_TOKEN", default_value=SECRET + "-job", secret=True
    )
    return plan


def _initiation() -> events_pb2.SchedulerJobInitiationEvent:
    event = events_pb2.SchedulerJobInitiationEvent(job_name="load")
    event.context_parameters.add(name="DB_PASSWORD", value=SECRET, secret=True)
    event.context_parameters.add(name="REGION", value="eu-west")
    event.internal_event_driven_job.context_parameters.add(
        name="JOB_TOKEN", default_value=SECRET + "-job", secret=True
    )
    return event


def test_seal_and_open_round_trip() -> None:
    box = SecretBox(generate_key())
    for value in ("", "x", SECRET, "line1\nline2", "\u2603" * 1000):
        sealed = box.seal(value, aad="P")
        assert is_sealed(sealed)
        if len(value) >= 8:  # (a short value may occur in base64 text by chance)
            assert value not in sealed
        assert box.open(sealed, aad="P") == value
    # A fresh nonce each time: equal values do not seal alike.
    assert box.seal(SECRET) != box.seal(SECRET)


def test_sealed_values_do_not_open_with_another_key_place_or_after_tampering() -> None:
    box = SecretBox(generate_key())
    sealed = box.seal(SECRET, aad="DB_PASSWORD")
    with pytest.raises(SecretError, match="wrong key"):
        SecretBox(generate_key()).open(sealed, aad="DB_PASSWORD")
    with pytest.raises(SecretError):
        box.open(sealed, aad="OTHER_PARAMETER")
    blob = bytearray(base64.urlsafe_b64decode(sealed.removeprefix(SEALED_PREFIX)))
    for at in (0, 13, len(blob) - 1):  # nonce, ciphertext, tag
        altered = bytearray(blob)
        altered[at] ^= 0x01
        tampered = SEALED_PREFIX + base64.urlsafe_b64encode(bytes(altered)).decode()
        with pytest.raises(SecretError):
            box.open(tampered, aad="DB_PASSWORD")
    with pytest.raises(SecretError):
        box.open("plain text")
    with pytest.raises(SecretError, match="truncated"):
        box.open("enc:v1:AAAA")


def test_mask() -> None:
    assert mask(SECRET) == MASK == "***"
    assert mask("") == ""


def test_masking_covers_plans_instances_events_and_responses() -> None:
    plan = _plan()
    masked = mask_secret_parameters(plan)
    text = json_format.MessageToJson(masked)
    assert SECRET not in text and text.count('"***"') == 3
    assert masked.context_parameters[1].default_value == "eu-west"
    # The original is untouched (the job still needs the value).
    assert plan.context_parameters[0].default_value == SECRET

    instance = instance_pb2.ContextInstance(id="i1")
    instance.context_parameters.add(name="DB_PASSWORD", value=SECRET, secret=True)
    assert mask_secret_parameters(instance).context_parameters[0].value == MASK

    export = plan_service_pb2.GetPlanResponse(plan=plan)
    assert SECRET not in str(mask_secret_parameters(export))
    watch = instance_service_pb2.WatchInstancesResponse(snapshot=instance)
    assert SECRET not in str(mask_secret_parameters(watch))
    event = mask_secret_parameters(_initiation())
    assert SECRET not in str(event) and event.context_parameters[1].value == "eu-west"


def test_sealing_in_place_keeps_only_ciphertext_and_opens_back() -> None:
    box = SecretBox(generate_key())
    plan = _plan()
    seal_secret_parameters(plan, box)
    stored = plan.SerializeToString()
    assert SECRET.encode() not in stored and b"hunter2" not in stored
    assert b"eu-west" in stored  # non-secret values stay readable
    seal_secret_parameters(plan, box)  # idempotent: no double sealing
    open_secret_parameters(plan, box)
    assert plan == _plan()

    event = _initiation()
    seal_secret_parameters(event, box)
    assert SECRET not in str(event)
    open_secret_parameters(event, box)
    assert event == _initiation()


def test_a_sealed_value_moved_to_another_parameter_does_not_open() -> None:
    box = SecretBox(generate_key())
    params = instance_pb2.ContextInstance()
    params.context_parameters.add(name="A", value="a-secret", secret=True)
    params.context_parameters.add(name="B", value="b-secret", secret=True)
    seal_secret_parameters(params, box)
    params.context_parameters[1].value = params.context_parameters[0].value
    with pytest.raises(SecretError):
        open_secret_parameters(params, box)


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret.key"
    path.parent.mkdir()
    key = load_or_create_key_file(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key_file(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary files left
    sealed = SecretBox.from_config("", path).seal(SECRET)
    assert SecretBox(key).open(sealed) == SECRET


def test_key_file_created_once_under_concurrent_starts(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_or_create_key_file(path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(keys) == 8 and len(set(keys)) == 1


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    load_or_create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(FailedPrecondition, match="chmod 600"):
        load_or_create_key_file(path)


def test_key_from_config() -> None:
    key = generate_key()
    box = SecretBox.from_config(encode_key(key), "/nonexistent/never-read.key")
    assert SecretBox(key).open(box.seal(SECRET)) == SECRET
    assert decode_key(encode_key(key)) == key
    with pytest.raises(InvalidArgument, match="32 bytes"):
        decode_key(encode_key(b"short"))
    with pytest.raises(InvalidArgument):
        decode_key("***not base64***")


def test_non_secret_parameters_are_left_alone() -> None:
    params = common_pb2.ContextParameterInstance(name="REGION", value="eu-west")
    assert mask_secret_parameters(params).value == "eu-west"
    box = SecretBox(generate_key())
    seal_secret_parameters(params, box)
    assert params.value == "eu-west"
