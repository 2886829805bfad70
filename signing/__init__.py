"""Signing and verification of approved Panorama targets (placeholder; API below grows)."""
