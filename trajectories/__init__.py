"""Semantic layer: condition packs, stage models, symptom lexicons, trajectory sampling and retrieval."""
