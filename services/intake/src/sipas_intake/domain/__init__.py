"""Intake's pure rules (no I/O): adapters, validation, revisions, answers, paper rows.

Modules: ``errors`` (field-level problems), ``phones`` (Vietnamese numbers), ``dossiers``
(canonical record → prepared event, revisions), ``hoso`` and ``fieldmap`` (source
adapters), ``formats`` (which adapter reads which input), ``responses`` (answers → event),
``paper`` (coded paper form rows).
"""
