"""Monitors (online evaluation): judges that run by themselves on the traces that arrive, inside
`tracejudge serve`; their verdicts are feedback on the traces, their metrics time series."""
