"""The orchestration engine: pure plan model, per-instance ContextMachine, lock/global coordinator.

No I/O, no clock, no protobuf or SQL here; plans/convert.py maps the protocol onto these types.
"""
