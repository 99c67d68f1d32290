"""Job plans: loading what people write (loader), checking it (validation), and turning the
proto model into the engine's domain model (convert).

Submodules are imported on use, so importing this package stays cheap.
"""
