"""Blind human rating: a self-contained HTML page of randomised image pairs, and the scoring of
the votes it saves (docs/metrics.md, "Human rating"). Sees images and votes, never models."""
