"""Evaluation surveys after a meeting: personal one-time links to those present, anonymous answers."""
