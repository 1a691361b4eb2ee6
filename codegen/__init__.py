"""Lexicon → Python code generator for chive-admin.

``python -m codegen`` regenerates ``src/chive_admin/_generated`` from ``lexicons/``; ``--check`` fails on drift.
Generation is a pure function from lexicons to ``{path: text}`` (``emit_*``); writing is a separate step
(``write``), so the same plan serves both regeneration and the drift check.
"""
