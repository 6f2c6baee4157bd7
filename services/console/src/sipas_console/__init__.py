"""Console: the staff screens and the public pages of SIPAS Live (a backend-for-frontend).

It calls the four services' HTTP APIs with the signed-in person's token and never reads
their databases; its own database holds only people, sessions and keys (identity).
"""
