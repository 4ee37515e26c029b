"""unitax compiler: YAML specs -> validated model -> NumPy tables -> generated/.

Stages, one module each, each importing only the stages to its left:
``errors`` -> ``load`` -> ``schema`` -> ``rules`` -> ``model`` -> ``tables`` -> ``emit`` -> ``build``;
``importer`` writes specs from the MSeg reference; ``cli`` is the only module that imports click.
"""
