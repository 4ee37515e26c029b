"""unitax tools: what sits on top of the compiler and the runtime (the ``unitax`` CLI, the MSeg
importer, the naive baseline, the taxonomy diff, remap-dir). Tools may import both; the
compiler and the runtime never import the tools."""
