"""Downstream classifiers and data mixtures."""
