"""Flowyard domain layer."""
