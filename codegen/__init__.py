"""The code generator: writes the method layer of both clients from the core's tables.

``python -m codegen`` writes the files; ``python -m codegen --check`` exits non-zero, naming
the file, when a committed file differs from what the generator writes or when a file marked
as generated has no source any more.
"""
