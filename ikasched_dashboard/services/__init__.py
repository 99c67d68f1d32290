"""gRPC servicers of the dashboard."""
