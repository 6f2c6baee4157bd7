"""Scoring's Mongo adapters: counts per slice, the funnel, profiles and plans, publications.

Each module names its collections: ``aggregates`` (:mod:`~sipas_scoring.store.aggregates`),
``funnel_dossiers`` and ``funnel_invitations`` (:mod:`~sipas_scoring.store.funnel`),
``profiles`` and ``plans`` (:mod:`~sipas_scoring.store.profiles`), ``publications``
(:mod:`~sipas_scoring.store.publications`).
"""
