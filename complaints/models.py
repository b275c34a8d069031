"""Complaint intake and handling (see complaints/services.py)."""
