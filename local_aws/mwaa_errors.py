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

    def members(self) -> dict[str, object]:
        """The error's body, as the model's shape of the error has it."""
        return {"message": self.message}


class ValidationException(MwaaError):
    code, status = "ValidationException", 400


class ResourceNotFoundException(MwaaError):
    code, status = "ResourceNotFoundException", 404


class RestApiError(MwaaError):
    """Airflow's REST API answered an error: the model's members carry its status and response."""

    status = 400  # the model's status for both; the Airflow status is RestApiStatusCode

    def __init__(self, rest_status: int, response: object) -> None:
        super().__init__(f"The Apache Airflow REST API answered {rest_status}.")
        self.rest_status, self.response = rest_status, response

    def members(self) -> dict[str, object]:
        return {"RestApiStatusCode": self.rest_status, "RestApiResponse": self.response}


class RestApiClientException(RestApiError):
    code = "RestApiClientException"


class RestApiServerException(RestApiError):
    code = "RestApiServerException"
