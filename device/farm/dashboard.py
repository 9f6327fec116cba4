"""`pockettorch farm serve`: the farm's dashboard (FastAPI, pages rendered on the server from Jinja2 templates with
autoescaping). Runs list, a run's jobs with live progress (the page reloads while the run is running), the HTML
report's plots (the report page itself, in a frame), device status from the workers' heartbeats, and a comparison of
two runs through the regression gate. Read-only: cancelling needs the API token the server was started with."""
from __future__ import annotations

import contextlib
import hmac
import os
import time
import urllib.parse

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from pockettorch.device.farm import gate as gates
from pockettorch.device.farm import report_html

TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__),
                                                                           "dashboard_templates")),
                               autoescape=True, undefined=jinja2.StrictUndefined)
TEMPLATES.filters["urlencode"] = lambda s: urllib.parse.quote(str(s), safe="")
REFRESH_S = 2


def _page(name: str, **values) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(name).render(refresh=None, **values))


def _counts(jobs: list[dict]) -> str:
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j["status"]] = counts.get(j["status"], 0) + 1
    return ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))


def create_app(shared_store, api_token: str | None = None, worker_ttl_s: float = 30.0) -> FastAPI:
    """Pages over one store (both stores serialise or pool their connections, so request threads share it)."""
    app = FastAPI(title="PocketTorch farm", docs_url=None, redoc_url=None, openapi_url=None)

    @contextlib.contextmanager
    def open_store():
        yield shared_store

    def run_or_404(store, run_id: str) -> dict:
        try:
            return store.run(run_id)
        except KeyError:
            raise HTTPException(404, f"no run {run_id}") from None

    def states(store, run_id: str) -> dict[str, str]:
        if not hasattr(store, "engine"):
            return {}
        import sqlalchemy as sa

        from pockettorch.device.farm.store_sql import dispatch

        with store.engine.connect() as con:
            return dict(con.execute(sa.select(dispatch.c.key, dispatch.c.state).where(dispatch.c.run_id == run_id)).all())

    @app.get("/", response_class=HTMLResponse)
    def runs_page():
        with open_store() as store:
            runs = [dict(r, created=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["created"])),
                         counts=_counts(store.jobs(r["id"])), priority=r["config"].get("priority", ""))
                    for r in reversed(store.runs())]  # `farm run`'s runs have no priority
        return _page("runs.html.j2", title="Runs", runs=runs)

    def progress(store, run_id: str) -> dict:
        run = run_or_404(store, run_id)
        jobs, state = store.jobs(run_id), states(store, run_id)
        for j in jobs:
            j["state"] = state.get(j["key"], "done" if j["status"] in ("passed", "failed") else j["status"])
        done = sum(j["state"] not in ("queued", "running") for j in jobs)
        return {"run": run, "jobs": jobs, "done": done, "total": len(jobs)}

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(run_id: str):
        with open_store() as store:
            p = progress(store, run_id)
        page = TEMPLATES.get_template("run.html.j2").render(
            title=f"Run {run_id}", refresh=REFRESH_S if p["run"]["status"] == "running" else None,
            percent=100 * p["done"] // max(p["total"], 1), can_cancel=api_token is not None, **p)
        return HTMLResponse(page)

    @app.get("/api/runs/{run_id}")
    def run_json(run_id: str):
        with open_store() as store:
            p = progress(store, run_id)
        return JSONResponse({"id": run_id, "status": p["run"]["status"], "done": p["done"], "total": p["total"],
                             "jobs": [{k: j[k] for k in ("key", "state", "status", "attempts", "median_ms")}
                                      for j in p["jobs"]]})

    @app.get("/runs/{run_id}/report", response_class=HTMLResponse)
    def report_page(run_id: str):
        with open_store() as store:
            run_or_404(store, run_id)
            return HTMLResponse(report_html.render(store, run_id))

    @app.post("/runs/{run_id}/cancel")
    async def cancel(run_id: str, request: Request):
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))  # the page's one field
        given = (form.get("token") or [""])[0] or request.headers.get("authorization", "").removeprefix("Bearer ")
        if api_token is None or not hmac.compare_digest(given.encode(), api_token.encode()):
            raise HTTPException(403, "this dashboard is read-only without its API token")
        from pockettorch.device.farm import dispatch

        with open_store() as store:
            run_or_404(store, run_id)
            if not hasattr(store, "engine"):
                raise HTTPException(409, "only runs submitted to the farm across hosts can be cancelled")
            dispatch.cancel(store, run_id)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    @app.get("/devices", response_class=HTMLResponse)
    def devices_page():
        rows, workers = [], []
        with open_store() as store:
            if hasattr(store, "engine"):
                import sqlalchemy as sa

                from pockettorch.device.farm import dispatch as d
                from pockettorch.device.farm.store_sql import dispatch

                workers = d.all_workers(store)
                with store.engine.connect() as con:
                    busy = set(con.execute(sa.select(dispatch.c.queue).where(dispatch.c.state == "running")).scalars())
        now = time.time()
        for w in workers:
            for dev in w["devices"]:
                gone = now - w["heartbeat"] > worker_ttl_s
                rows.append({"worker": w["name"], "serial": dev["serial"], "model": dev.get("model") or dev.get("name"),
                             "abi": dev.get("abi"), "os": dev.get("os_version") or dev.get("os") or "",
                             "state": "lost" if gone else "busy" if dev["queue"] in busy else "idle",
                             "temp_c": dev.get("temp_c"), "age": now - w["heartbeat"]})
        return _page("devices.html.j2", title="Devices", workers=workers, devices=rows)

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(base: str, run: str, max_regression: str = "10%"):
        try:
            threshold = gates.parse_threshold(max_regression)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        with open_store() as store:
            run_or_404(store, base)
            run_or_404(store, run)
            base_jobs, new_jobs = store.jobs(base), store.jobs(run)
        result = gates.compare(base, base_jobs, run, new_jobs, threshold)
        medians = {j["key"]: j["median_ms"] for j in base_jobs}
        rows = []
        for j in new_jobs:
            b, n = medians.get(j["key"]), j["median_ms"]
            change = f"{100 * (n - b) / b:+.1f}%" if b and n is not None else ""
            rows.append({"key": j["key"], "base": "" if b is None else f"{b:.3f}",
                         "new": "" if n is None else f"{n:.3f}", "change": change})
        return _page("compare.html.j2", title=f"{run} against {base}", gate=result, rows=rows,
                     threshold=f"{100 * threshold:g}")

    return app
