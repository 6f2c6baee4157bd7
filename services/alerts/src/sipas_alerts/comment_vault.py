"""Respondents' comments, kept sealed: read to classify, stored sealed, opened to show.

A comment may name people or hold a phone number, so it never rests in clear: version 2
response events carry it sealed to alerts' key by intake (``sealed_comment``); a version 1
event's clear comment is sealed here before it is stored. It is opened only to classify it
and, masked and cut to an excerpt, when a case's reader looks at its alerts.
"""

from __future__ import annotations

import structlog

from sipas_contracts.events import ResponseRecorded
from sipas_runtime.logs import mask_text
from sipas_runtime.privacy import KeyPair, PrivacyError, Sealer, Unsealer

log = structlog.get_logger(__name__)
EXCERPT_CHARS = 300


class CommentVault:
    """Opens and seals comments with alerts' key pair (without a key, comments stay unread)."""

    def __init__(self, secret_key: str | None) -> None:
        pair = KeyPair.of(secret_key) if secret_key else None
        self._open = Unsealer(pair.secret_key) if pair else None
        self._seal = Sealer(pair.public_key) if pair else None

    def read(self, response: ResponseRecorded) -> str | None:
        """The comment's text, to classify (None when there is none or it cannot be opened)."""
        if response.comment is not None:
            return response.comment
        return self.open(response.sealed_comment)

    def keep(self, response: ResponseRecorded) -> str | None:
        """The comment as it may be stored: sealed."""
        if response.sealed_comment is not None:
            return response.sealed_comment
        if response.comment is None or self._seal is None:
            return None
        return self._seal({"comment": response.comment})

    def open(self, sealed: str | None) -> str | None:
        """The text of a sealed comment, or None."""
        if sealed is None or self._open is None:
            return None
        try:
            return self._open(sealed).get("comment")
        except PrivacyError:
            log.warning("comment_unreadable")
            return None

    def excerpt(self, sealed: str | None) -> str | None:
        """What a case's reader sees: the comment masked (phones, e-mails) and cut short."""
        text = self.open(sealed)
        return mask_text(text)[:EXCERPT_CHARS] if text else None
