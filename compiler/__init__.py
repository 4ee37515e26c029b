"""unitax compiler: YAML specs -> validated model -> NumPy tables -> generated/.

Stages, one module each, each importing only the stages to its left:
``errors`` -> ``load`` -> ``schema`` -> ``rules`` -> ``model`` -> ``tables`` -> ``emit`` -> ``build``;
``emit/`` is a package (tables, docs, coverage, sheets). The importer and the CLI live in
``unitax.tools``, which this package never imports.
"""
