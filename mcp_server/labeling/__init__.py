"""Labeling: schemas of what to ask a person about a trace, sessions that queue traces for them,
and labels stored as HUMAN assessments named after their schema (what judge alignment reads)."""
