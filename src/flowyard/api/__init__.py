"""Flowyard api layer."""
