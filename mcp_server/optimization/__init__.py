"""Improving text against a score: the GEPA search (search.py), a judge's agreement with human
labels (agreement.py) and aligning a judge's instructions with those labels (align.py)."""
