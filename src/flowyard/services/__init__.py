"""Flowyard services layer."""
