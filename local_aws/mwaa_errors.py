"""The errors of the local AWS's Amazon MWAA, as botocore's ``mwaa`` model names them.

``mwaa_api`` answers each with its ``code`` (``x-amzn-ErrorType``) and HTTP ``status``, so botocore
raises the modeled exception (``client.exceptions.ValidationException``...).
"""

from __future__ import annotations


class MwaaError(Exception):
    """An MWAA error as the model names it; ``mwaa_api`` answers with ``code`` and ``status``."""

    code = "InternalServerException"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationException(MwaaError):
    code, status = "ValidationException", 400


class ResourceNotFoundException(MwaaError):
    code, status = "ResourceNotFoundException", 404
