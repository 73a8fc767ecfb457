"""Method plugins: one package per explanation generator, registered with ``@methods.register``."""
