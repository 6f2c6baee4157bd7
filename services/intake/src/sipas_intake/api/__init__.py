"""Intake's JSON API (problem+json errors): dossiers, responses, forms, paper, kiosks."""
