"""Replay of request traces through ebb's core against a simulated cluster, beside baselines."""
