"""Parity tests against R reference fixtures (tests/fixtures)."""
