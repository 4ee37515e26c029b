"""Tools that read a compiled build (import package ``unitax.tools``)."""
