"""The ikasched dashboard: holds job plans, runs their instances and tells agents what to run."""
