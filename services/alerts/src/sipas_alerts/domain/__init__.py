"""The alerts domain: pure rules, cases, SLAs and access (stdlib, pydantic, contracts only).

- ``windows``: grouping windows and period order; ``calendar``: working time;
- ``comments``: the negative-comment classifier; ``policy``: the configurable rules;
- ``alerts``: rule hits; ``response_rules``, ``index_rules``, ``activity``: the rules;
- ``cases`` and ``lifecycle``: cases, transitions, deadlines and their events;
- ``access``: roles and unit scopes; ``kpis``: case-handling KPIs; ``errors``: the errors.
"""
