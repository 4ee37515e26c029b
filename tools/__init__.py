"""unitax tools (import package ``unitax.tools``): what sits on top of the compiler and the runtime:
the ``unitax`` CLI, the MSeg importers, the naive baseline, diff, remap-dir, exports, pictures and
dataset preparation. Tools may import the compiler and the runtime; neither imports the tools.
"""
