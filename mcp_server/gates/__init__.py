"""Release gates: metric judges with thresholds and policy judges combined into pass, warn or block."""
