"""Alerts: rules on a monitor's metrics that fire and resolve, each change stored, logged and sent
to an operator-allowed webhook signed with HMAC-SHA256."""
