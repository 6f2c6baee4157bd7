"""Intake service: dossier ingestion and survey responses."""
