"""Shared, dependency-free helpers of the employee batch pipeline.

Pure standard library: imported by the DAG, by ``infra/`` and the tests, and
vendored into each Lambda zip by ``infra.packaging``.
"""
