"""Metric plugins: one module per metric family, registered with ``@metrics.register``."""
