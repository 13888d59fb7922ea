"""Reusable conformance suite for ellmer-py providers: pytest plugin and fakes."""
