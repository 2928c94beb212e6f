"""Job functions registered only by the job tests (run in-process by execute())."""

from __future__ import annotations

import time

from app.jobs import job_function


@job_function("unit_echo")
def echo(job_id, ctx):
    for i in range(3):
        ctx.report_progress({"candidates_done": i + 1, "fraction": (i + 1) / 3, "best_score": 0.5})
    return {"job_id": job_id, "score": float("nan")}


@job_function("unit_raises")
def raises(job_id, ctx):
    raise ValueError("The column 'price' has no numbers.")


@job_function("unit_until_stop")
def until_stop(job_id, ctx):
    while not ctx.should_stop():
        time.sleep(0.02)
    return {"cancelled": ctx.cancelled}
