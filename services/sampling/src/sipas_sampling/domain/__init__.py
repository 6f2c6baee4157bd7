"""Sampling's pure rules: campaigns, eligibility, sizing, allocation, draws and delivery.

No I/O here (an architecture test enforces it): the clock, ids and state are passed in.
Errors: ``AllocationError`` (impossible sizes/bounds), ``TemplateError`` (bad template);
campaign validation raises pydantic's ``ValidationError`` naming the field.
"""
