"""Scoring service: aggregates, indices and publication."""
