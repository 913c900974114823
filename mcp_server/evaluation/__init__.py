"""Parallel evaluation: judges over many traces within a budget (run.py), the adaptive
concurrency limit (limiter.py), the stored run and its metrics (summary.py), and the services
behind GetEvaluationRun and CompareEvaluationRuns (reports.py)."""

from mcp_server.evaluation.run import evaluate
from mcp_server.evaluation.summary import EvaluationRun

__all__ = ["EvaluationRun", "evaluate"]
