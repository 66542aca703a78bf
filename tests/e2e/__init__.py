"""End-to-end browser tests (see conftest.py)."""
