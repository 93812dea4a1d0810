"""Using what a run shipped: a saved program as a callable (`smolopt.serving.program.load_program`)
and as a local HTTP API (`smolopt serve --program`, smolopt.serving.program_api).

Only the default port lives here, so the CLI reads it without importing DSPy.
"""

PORT = 8766  # `smolopt serve --program`'s default on 127.0.0.1; `smolopt view` has 8765
