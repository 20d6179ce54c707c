"""A failure outside the data, named by its cause: an executor's Python exception line, unwrapped from
Spark's JVM wrappers (Glue reports the last exception of the driver)."""

from __future__ import annotations

_TRACEBACK = "Traceback (most recent call last):"


class IngestError(RuntimeError):
    """The load failed outside the data; the message is the cause's own exception line."""


def python_cause(error: BaseException) -> str | None:
    """The Python exception line inside a Spark/Py4J error (an executor's failure), or None.

    Spark wraps an executor's Python exception in JVM exceptions whose first line
    names only the wrapper (``Py4JJavaError: An error occurred while calling ...``);
    the Python traceback is inside their text. Its exception line is the first
    unindented line after the last traceback header.
    """
    text = str(error)
    if _TRACEBACK not in text:
        return None
    for line in text.rsplit(_TRACEBACK, 1)[1].splitlines():
        if line.strip() and not line[0].isspace():
            return line.strip()
    return None
