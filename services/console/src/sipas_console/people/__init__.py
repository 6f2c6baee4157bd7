"""People of the console: accounts, sign-in, sessions, the keys that sign their tokens.

- ``accounts``: a person's record (roles, units, argon2 password hash, TOTP) and its store;
- ``signin``: the sign-in rules (password, second factor, lockout) — pure;
- ``sessions``: server-side sessions behind an HttpOnly cookie, with their CSRF token;
- ``signing``: the console's Ed25519 signing keys, rotated and published to the bucket.
"""
