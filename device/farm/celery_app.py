"""The Celery application of the distributed farm: one task, JSON only, settings that make a lost worker safe.

A device's worker process (started by `farm worker`, one per device, concurrency 1) loads this module with
`celery -A pockettorch.device.farm.celery_app`; its broker URL, database URL and device come from the environment
the supervisor sets (never the command line, which `ps` and logs show).
- acks_late + reject_on_worker_lost: a message is acknowledged only after its job is stored, so a worker that dies
  mid-job leaves it in Redis; prefetch 1: a worker holds one message, so nothing waits behind a busy phone;
- the visibility timeout is longer than the longest job a worker accepts (worker.py refuses longer ones), so Redis
  does not hand a running job to another consumer;
- priorities: kombu's Redis transport keeps one list per priority step and a worker pops the lists in step order,
  FIFO within each; one step per Celery priority (0-9) keeps every run priority apart;
- only the `pockettorch.farm.run_job` task exists; its one argument is validated (dispatch.validate_message);
- a message can still vanish (Redis stopped between popping it and recording it unacknowledged, a broker that lost
  its data): `waiting` lets the supervisor see a device queue empty while the store still has jobs queued on it.
"""
from __future__ import annotations

import os

from celery import Celery
from kombu.exceptions import OperationalError

from pockettorch.device.farm import PRIORITY_MAX

BROKER_ENV = "POCKETTORCH_FARM_BROKER"
VISIBILITY_ENV = "POCKETTORCH_FARM_VISIBILITY_S"
VISIBILITY_S = 4 * 3600.0  # default: above a 10-minute job with its retries and cool-downs


def make_app(broker: str | None, visibility_s: float = VISIBILITY_S) -> Celery:
    app = Celery("pockettorch-farm", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_backend=None, task_ignore_result=True,
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": visibility_s, "priority_steps": list(range(10))},
        broker_connection_retry_on_startup=True, broker_connection_max_retries=None,  # Redis restarts: wait for it
        worker_hijack_root_logger=False, worker_redirect_stdouts=False, worker_send_task_events=False,
        task_default_queue="pkt.unrouted",  # nothing consumes it: every job names its device's queue
    )

    @app.task(name="pockettorch.farm.run_job", bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_job(self, message):
        from pockettorch.device.farm import worker

        worker.handle_message(message)

    return app


app = make_app(os.environ.get(BROKER_ENV), float(os.environ.get(VISIBILITY_ENV) or VISIBILITY_S))


def publish(app: Celery, rows: list[dict]) -> None:
    """Send each job's reference ({run_id, key}) to its device's queue with its run's priority."""
    with app.producer_or_acquire() as producer:
        for r in rows:
            app.send_task("pockettorch.farm.run_job", args=[{"run_id": r["run_id"], "key": r["key"]}],
                          queue=r["queue"], producer=producer,
                          priority=PRIORITY_MAX - r["priority"])  # on Redis, Celery's priority 0 is served first


def waiting(app: Celery, queues: list[str]) -> dict[str, int] | None:
    """Messages waiting in each device queue (all its priority lists), or None while the broker is unreachable."""
    with app.connection_for_read() as conn:
        try:
            conn.ensure_connection(max_retries=0)  # one try: the supervisor's heartbeat must not wait on Redis
            channel = conn.default_channel
            return {q: channel._size(q) for q in queues}  # kombu's Redis transport: LLEN over the priority lists
        except (OperationalError, *conn.connection_errors, *conn.channel_errors):
            return None
