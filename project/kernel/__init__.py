"""The shared kernel: standard-library-only building blocks every module's interface may use.

Nothing here imports Django or any other third-party package (import-linter enforces it), so
interfaces stay importable by a remote client that has none of the implementation.
"""
