"""One error shape for the JSON API, bilingual error pages for the browser.

API errors look like::

    {"error": {"code": "validation_failed", "message": "...",
               "fields": {"email": ["Not a valid email address."]}}}
"""

from typing import Any

from flask import Flask, Response, jsonify, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from proving_ground.access import is_api_request
from proving_ground.validation import Invalid

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def api_error(
    status: int,
    message: str,
    fields: dict[str, list[str]] | None = None,
    *,
    code: str | None = None,
) -> Response:
    """A JSON error response in the API's one shape."""
    body: dict[str, Any] = {
        "code": code or ERROR_CODES.get(status, "error"),
        "message": message,
    }
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    return response


def flatten_field_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested error dict as ``{"a.0.b": ["problem", ...]}``."""
    if isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            if key == "_schema" and not prefix:
                name = "_schema"
            for field, problems in flatten_field_errors(value, name).items():
                flat.setdefault(field, []).extend(problems)
    return flat


def _validation_fields(error: HTTPException) -> dict[str, list[str]] | None:
    data = getattr(error, "data", None) or {}
    if "fields" in data:
        return data["fields"]
    messages = data.get("messages") or data.get("errors")
    if not messages:
        return None
    # webargs keys errors by location ("json", "query", ...); one location is usual.
    if isinstance(messages, dict) and set(messages) <= {
        "json",
        "query",
        "form",
        "files",
        "headers",
        "cookies",
        "view_args",
        "path",
    }:
        merged: dict[str, list[str]] = {}
        for location_errors in messages.values():
            for field, problems in flatten_field_errors(location_errors).items():
                merged.setdefault(field, []).extend(problems)
        return merged
    return flatten_field_errors(messages)


def _api_message(error: HTTPException) -> str:
    data = getattr(error, "data", None) or {}
    if data.get("message"):
        return str(data["message"])
    defaults = {
        400: _("The request is malformed."),
        401: _("Authentication required."),
        403: _("You do not have permission to do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        422: _("Some fields are invalid."),
        429: _("Too many requests. Try again later."),
        500: _("Something went wrong on our side."),
    }
    return str(defaults.get(error.code or 500, error.description or error.name))


def handle_http_exception(error: HTTPException):
    if is_api_request():
        if isinstance(error, CSRFError):
            return api_error(400, str(error.description), code="csrf_failed")
        response = api_error(
            error.code or 500, _api_message(error), _validation_fields(error)
        )
        extra_headers = (getattr(error, "data", None) or {}).get("headers") or {}
        for name, value in extra_headers.items():
            response.headers[name] = value
        if error.code == 429 and error.response is not None:
            response.headers.extend(
                (k, v)
                for k, v in error.response.headers.items()
                if k.startswith("Retry")
            )
        return response
    status = error.code or 500
    template = (
        f"errors/{status}.html" if status in (403, 404, 500) else "errors/generic.html"
    )
    if isinstance(error, CSRFError):
        description = _(
            "The form has expired or was sent from elsewhere. "
            "Go back, reload the page and try again."
        )
    else:
        description = None
    return render_template(
        template, error=error, status=status, description=description
    ), status


def handle_invalid(error: Invalid):
    """A service refused input: the API's error shape, or a 422 page."""
    if is_api_request():
        return api_error(error.status, error.message, error.fields)
    return (
        render_template(
            "errors/generic.html",
            error=error,
            status=error.status,
            description=error.message,
        ),
        error.status,
    )


def init_app(app: Flask) -> None:
    # Unhandled exceptions reach this handler as InternalServerError (logged by
    # Flask first); in tests they propagate instead.
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Invalid, handle_invalid)
