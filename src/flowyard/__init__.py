"""Flowyard: a self-hosted batch-workflow service speaking the EnOS Batch Processing API."""

__version__ = "0.1.0"
