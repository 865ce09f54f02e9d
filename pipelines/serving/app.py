"""The prediction API (FastAPI on uvicorn): POST /v1/predict, GET /healthz, GET /metrics.

FastAPI because it is the ASGI framework most teams already run (Starlette underneath, OpenAPI docs at
/docs for free) and uvicorn its usual server. Handlers never let an input error escape as a 500: bad
input is a 4xx whose body names the field; anything else is a logged 500 and the server carries on.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np
import pyarrow.compute as pc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pipelines import schema as s
from pipelines.config import Serve
from pipelines.serving import rows
from pipelines.serving.champion import Champion
from pipelines.serving.metrics import Metrics
from pipelines.serving.stream import StreamView

ROUTES = ("/v1/predict", "/v1/predictions", "/healthz", "/metrics", "/docs", "/openapi.json")  # else "other"
SHOWN = (s.DEPARTURE_ID, s.SERVICE_DATE, s.STATION, s.TRAIN, s.TRAIN_NUMBER, s.PLANNED_DESTINATION,
         s.SCHEDULED_DEPARTURE, s.T_PRED, s.DECIDED_AT, s.PUBLISHED_AT, s.MODEL_VERSION, s.PREDICTION,
         s.PREDICTED_ARRIVAL, s.ROLE)


class Measure:
    """ASGI middleware: count and time every request by route and status (cheaper than Starlette's
    BaseHTTPMiddleware on the one-row path)."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope["path"] if scope["path"] in ROUTES else "other"
            self.metrics.requests.labels(route, scope["method"], str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) beyond `limit` bytes before it is all read."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise rows.BadInput(f"body of {declared} bytes: at most {limit} (serve.max_body_bytes)", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise rows.BadInput(f"body over {limit} bytes (serve.max_body_bytes)", status=413)
    return bytes(body)


def _plain(value: Any) -> Any:
    """A JSON value: instants and dates as ISO text."""
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def refused(error: rows.BadInput) -> JSONResponse:
    return JSONResponse({"error": str(error), "field": error.field}, status_code=error.status)


def create_app(settings: Serve, champion: Champion, metrics: Metrics,
               live: StreamView | None = None) -> Measure:
    """The API over `champion` (already refreshed or watching; the app does not start threads) and the
    live stream, as an ASGI application wrapped in the request metrics."""
    app = FastAPI(title="Railcast prediction API", version="1",
                  description="Predicted arrival delay at the destination, from the registry's champion.")

    @app.post("/v1/predict")
    async def predict(request: Request, explain: bool = False) -> Response:
        """Features in (every feature of the served model, null where unknown), minutes of delay out;
        `?explain=true` adds each feature's contribution (LightGBM `pred_contrib`; with `bias` they sum
        to the prediction)."""
        loaded = champion.current  # taken once: a swap during this request does not affect it
        if loaded is None:
            return JSONResponse({"error": "no champion yet: train and promote a model first "
                                          "(`railcast retrain --reason ...` or the retrain DAG)"}, 503)
        try:
            found = rows.parse(await bounded_body(request, settings.max_body_bytes), settings.max_rows)
            matrix = rows.encode(found, loaded)
        except rows.BadInput as error:
            return refused(error)
        values = loaded.model.booster.predict(matrix)
        metrics.predictions.labels(loaded.version).inc(len(values))
        metrics.rows.observe(len(values))
        answer = {"model_version": loaded.version, "model_sha256": loaded.sha256, "unit": "minutes",
                  "predictions": [float(v) for v in values]}
        if explain:
            parts = np.asarray(loaded.model.booster.predict(matrix, pred_contrib=True))
            names = [*loaded.features, "bias"]
            answer["contributions"] = [dict(zip(names, map(float, row), strict=True)) for row in parts]
        return JSONResponse(answer)

    @app.get("/v1/predictions")
    def predictions(station: str | None = None, train: str | None = None, date: str | None = None,
                    role: str = "champion", limit: int = 100) -> Response:
        """The latest live predictions (`railcast live`) of one service date (default: the newest),
        newest decision first; `station` and `train` (label or number) narrow them."""
        try:
            day = dt.date.fromisoformat(date) if date else (live.newest_day() if live else None)
        except ValueError:
            return refused(rows.BadInput(f"date {date!r} is not an ISO date (YYYY-MM-DD)", field="date"))
        if not 1 <= limit <= settings.max_rows:
            return refused(rows.BadInput(f"limit must be 1..{settings.max_rows}", field="limit"))
        if day is None:
            return JSONResponse({"service_date": None, "predictions": []})
        table = live.day(day)
        keep = pc.equal(table[s.ROLE], role)
        if station:
            keep = pc.and_(keep, pc.equal(table[s.STATION], station))
        if train:
            named = pc.or_(pc.equal(table[s.TRAIN], train), pc.equal(table[s.TRAIN_NUMBER], train))
            keep = pc.and_(keep, named)
        found = table.filter(keep).sort_by([(s.DECIDED_AT, "descending"), (s.DEPARTURE_ID, "ascending")])
        shown = found.slice(0, limit).select(list(SHOWN)).to_pylist()
        return JSONResponse({"service_date": day.isoformat(), "count": found.num_rows,
                             "predictions": [{k: _plain(v) for k, v in r.items()} for r in shown]})

    @app.get("/healthz")
    def healthz() -> Response:
        """200 with the served version and its hash once a champion is loaded, else 503."""
        loaded = champion.current
        checked = champion.checked_at.isoformat() if champion.checked_at else None
        if loaded is None:
            return JSONResponse({"status": "no champion", "alias_checked_at": checked}, 503)
        return JSONResponse({"status": "ok", "model_version": loaded.version, "sha256": loaded.sha256,
                             "promoted_at": loaded.promoted_at, "loaded_at": loaded.loaded_at,
                             "alias_checked_at": checked, "reload_seconds": champion.reload_s})

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Measure(app, metrics)
