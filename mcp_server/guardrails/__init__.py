"""Guardrails: screens the gateway runs on a call's messages before they reach the provider (input)
and on the answer before it reaches the caller (output): personal data and secrets (pii.py), prompt
injection (injection.py), and any stored judge (judge_check.py); config.py reads their TOML tables,
service.py applies them and turns each decision into feedback for the call's trace."""
