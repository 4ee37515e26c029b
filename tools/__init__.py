"""Tools that read specs or a compiled build (import package ``unitax.tools``): exports for training
frameworks, pictures, dataset preparation. They may import the compiler and the runtime; neither
imports them.
"""
