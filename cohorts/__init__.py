"""Statistical layer: reference populations, SDV synthesizers, conditional sampling, fidelity and privacy."""
