"""Parallel evaluation: judges over many traces within a budget (run.py), the adaptive
concurrency limit (limiter.py), the stored run and its metrics (summary.py), and the services
behind GetEvaluationRun and CompareEvaluationRuns (reports.py), ListEvaluationRuns (listing.py),
the agent run on dataset records (targets.py), and the tools and commands (tools.py, cli.py)."""
