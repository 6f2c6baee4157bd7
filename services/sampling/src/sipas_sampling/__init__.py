"""Sampling service: campaigns, draws and invitations."""
