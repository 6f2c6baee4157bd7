"""The public pages: the survey form (``/s``), the counter kiosk (``/k``) and their assets."""
