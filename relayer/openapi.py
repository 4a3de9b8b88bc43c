"""The OpenAPI 3.1 document, generated from the routes and their pydantic models: one table of
routes (relayer.app) says what each takes and returns, and both the handlers and this document
read it, so the document cannot drift from the code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from relayer.models import ErrorResponse

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    responses: dict[int, type[BaseModel] | str]  # a model, or a media type for non-JSON bodies
    body: type[BaseModel] | None = None
    auth: bool = True
    errors: tuple[int, ...] = ()
    tags: tuple[str, ...] = field(default=("jobs",))


def _models(routes: list[Route]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = [ErrorResponse]
    for r in routes:
        for m in [r.body, *r.responses.values()]:
            if isinstance(m, type) and m not in seen:
                seen.append(m)
    return seen


def build_openapi(routes: list[Route], title: str, version: str) -> dict[str, Any]:
    models = _models(routes)
    refs, schema = models_json_schema([(m, "serialization") for m in models] +
                                      [(m, "validation") for m in models], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {"summary": r.summary, "operationId": r.handler.__name__.lstrip("_"),
                              "tags": list(r.tags), "responses": {}}
        params = [{"name": name[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in r.path.split("/") if name.startswith("{")]
        if params:
            op["parameters"] = params
        if r.auth:
            op["security"] = [{"apiKey": []}]
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": refs[(r.body, "validation")]}}}
        for status, model in r.responses.items():
            if isinstance(model, str):
                op["responses"][str(status)] = {"description": model.split(";")[0],
                                                "content": {model: {"schema": {"type": "string"}}}}
            else:
                op["responses"][str(status)] = {"description": (model.__doc__ or model.__name__).strip().split("\n")[0],
                                                "content": {"application/json": {
                                                    "schema": refs[(model, "serialization")]}}}
        for status in sorted({*r.errors, *((401, 429) if r.auth else ())}):
            op["responses"][str(status)] = {"description": _ERRORS.get(status, "error"), "content": {
                "application/json": {"schema": refs[(ErrorResponse, "serialization")]}}}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "Authorization: Bearer ifr_<id>_<secret> (or X-API-Key)"}},
        },
    }


_ERRORS = {
    400: "malformed JSON or body", 401: "missing or unknown API key, or a gasless request not signed by `from`", 403: "quota exhausted or key revoked",
    404: "no such request", 409: "idempotency key reused with another body, or a gasless request's nonce used or queued", 413: "body too large",
    415: "not application/json", 422: "invalid field (empty, oversized or non-UTF-8 text, unknown model; gasless: "
                                      "expired, wrong fee or gas, permit short of the fee, balance too low)",
    429: "rate limit: retry after the Retry-After header's seconds",
}


def with_models(document: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """The document with the models this relayer serves as the request's `model` enum: a client
    (or a schema-driven test) learns from the document itself which names are accepted, instead
    of meeting a 422 for a name the schema called valid."""
    request = document["components"]["schemas"].get("SubmitJobsRequest")
    if request is not None and models:
        request["properties"]["model"]["enum"] = sorted(models)
    return document
