"""InvokeRestApi: a call of an environment's Apache Airflow REST API, forwarded to its real Airflow.

``Path`` under ``/api/v2`` with ``Method``, ``QueryParameters`` and ``Body``, as the environment's
Airflow admin (a token of the standalone's admin user). The answer is ``RestApiStatusCode`` and
``RestApiResponse``; Airflow's 4xx become ``RestApiClientException`` and its 5xx
``RestApiServerException``, both with those two members (botocore's ``mwaa`` model). As MWAA's user
guide documents, the call times out after 10 s and a response may not exceed 6 MB. Only an
AVAILABLE environment (or UPDATE_FAILED: rolled back and ready to use) answers; any other status is a
ValidationException (the code the model offers; MWAA documents no wording for it). IAM decides
``airflow:InvokeRestApi`` on the environment's ``rbac-role`` ARN for the Airflow ``Admin`` role
(``iam_requests``), which is the role the call runs as here.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

from local_aws.mwaa_environments import MwaaBackend
from local_aws.mwaa_errors import MwaaError, RestApiClientException, RestApiServerException

TIMEOUT_S = 10
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
API_PREFIX = "/api/v2"


class _NoAirflow(MwaaError):
    code, status = "NotImplemented", 501


def invoke_rest_api(backend: MwaaBackend, params: dict[str, Any]) -> dict[str, Any]:
    running = backend.serving_airflow(params["Name"])
    if running is None:
        raise _NoAirflow(f"Environment {params['Name']} runs no Airflow (local-aws:airflow off).")
    standalone = running.standalone
    url = f"{standalone.url}{API_PREFIX}{quote(params['Path'], safe='/~')}"
    if params.get("QueryParameters"):
        url += "?" + urlencode(params["QueryParameters"], doseq=True)
    body = params.get("Body")
    request = urllib.request.Request(
        url, method=params["Method"], data=json.dumps(body).encode() if body is not None else None
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {standalone.token()}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=TIMEOUT_S) as response:
            status, payload = response.status, response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as err:
        status, payload = err.code, err.read(MAX_RESPONSE_BYTES + 1)
    except OSError as err:
        raise RestApiServerException(504, {"detail": f"The Apache Airflow REST API did not answer: {err}"}) from None
    if len(payload) > MAX_RESPONSE_BYTES:
        raise RestApiServerException(status, {"detail": "The response exceeds 6 MB."})
    try:
        document = json.loads(payload) if payload.strip() else {}
    except ValueError:
        document = {"detail": payload.decode(errors="replace")}
    if 400 <= status < 500:
        raise RestApiClientException(status, document)
    if status >= 500:
        raise RestApiServerException(status, document)
    return {"RestApiStatusCode": status, "RestApiResponse": document}
