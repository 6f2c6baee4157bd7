"""Scoring's pure rules: additive counts, indices with intervals, roll-ups, ranks, publication.

Nothing here does I/O. Error hierarchy::

    ScoringError                      base of every scoring rule violation
    ├── PeriodError                   a period label cannot be parsed
    ├── ProfileError                  a campaign profile contradicts its instrument
    └── PublicationError              a publication transition is not allowed
"""

from __future__ import annotations


class ScoringError(ValueError):
    """Base of the errors raised by scoring's rules."""


class PeriodError(ScoringError):
    """Raised when a period label is not ``campaign``, ``YYYY``, ``YYYY-Qn`` or ``YYYY-MM``."""


class ProfileError(ScoringError):
    """Raised when a campaign profile names components or items its instrument lacks."""


class PublicationError(ScoringError):
    """Raised when a publication cannot move to the requested state (or by this actor)."""
