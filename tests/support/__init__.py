"""What the test tiers share: helpers and the implementations behind the shared fixtures.

Tests and conftests import from here; no test module or conftest imports a conftest or another test
module (tests/unit/test_support_imports.py holds the suite to it).
"""
