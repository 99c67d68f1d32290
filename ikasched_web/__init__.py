"""The web console: one more client of the public gRPC API (docs/architecture.md §11).

Pages render on the server from the operator services' answers; live updates are server-sent
events fed by `InstanceService.WatchInstances`; every action is the same RPC the CLI calls,
made with the signed-in user's own token.
"""
