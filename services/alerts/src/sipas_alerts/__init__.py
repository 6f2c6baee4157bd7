"""Alerts service: rules on responses and indices, cases with SLAs."""
