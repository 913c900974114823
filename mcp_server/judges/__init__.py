"""Judges: definitions stored as data, and the code that runs them on traces."""
