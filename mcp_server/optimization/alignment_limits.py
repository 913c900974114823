"""How many human labels judge alignment needs and what share it holds out, in a module of their
own: `tracejudge judge align --help` shows them without loading the optimizer (which loads the
model layer and the MCP SDK)."""

DEFAULT_MIN_LABELS = 20
"""Fewer labels leave a held-out set too small to tell a better judge from luck."""
MIN_LABELS_FLOOR = 4
DEFAULT_HOLDOUT_FRACTION = 0.3
MIN_HOLDOUT_FRACTION = 0.05
MAX_HOLDOUT_FRACTION = 0.8
"""The holdout_fraction AlignJudge accepts: both the held-out and the training share stay usable."""
