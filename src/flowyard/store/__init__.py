"""Flowyard store layer."""
