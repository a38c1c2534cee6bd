"""Metrics, fidelity, diversity, privacy and the comparison report."""
