"""The demo: a small customer-support agent (agent, over a scripted model backend), the evaluation
target that runs it on dataset records (target), and the demo data `serve --demo` loads (load)."""
