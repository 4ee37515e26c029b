"""Tools that read a compiled taxonomy (`unitax.tools`): exports for training frameworks, pictures.

Command-line side only (click and Pillow are allowed here); the runtime (`unitax`) never imports it.
"""
