"""doudi (兜底): social-assistance management for civil-affairs bureaus."""

__version__ = "0.1.0"
