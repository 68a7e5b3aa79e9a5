"""Flowyard cli layer."""
