"""Sampling decisions owned in memory by the dossiers' durable (issue #22)."""
