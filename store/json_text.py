"""The one JSON encoder for text the store keeps: compact, UTF-8 as it is, and always valid JSON.

`allow_nan=False` because NaN and Infinity have no JSON form: a value holding one would be written
as `NaN`, which SQLite's JSON functions refuse, breaking every attribute filter on the store. The
ingestion layer turns non-finite numbers into strings before a span gets here; this raises
ValueError if one slips through instead of writing a row no query can read. `default=str` keeps
values JSON has no type for (datetimes, Decimals) as their text.
"""

from __future__ import annotations

import json

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str).encode
"""dumps(value) -> str: compact JSON text; ValueError on NaN or Infinity."""
