"""xrec-bench core: datasets, runner, results, leaderboards and the plugin registry."""

__version__ = "0.1.0"
