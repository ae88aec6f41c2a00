"""Generators for the documentation site: pages and tables built from the code and results.

``docs/hooks.py`` calls them while MkDocs builds, so the CLI reference, the module map and the
benchmark tables are never typed by hand; the tests call them too (``tests/docs``).
"""
