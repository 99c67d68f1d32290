"""Engine tests run in memory; the helpers live in builder.py."""
