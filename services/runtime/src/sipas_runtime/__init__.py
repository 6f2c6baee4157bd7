"""Shared runtime kit of the SIPAS Live services and the ``sipas`` CLI."""
