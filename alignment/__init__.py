"""Alignment layer: profile + trajectory -> generation plans and prompts (guided, unguided, ablations)."""
