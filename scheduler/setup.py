"""APScheduler 3 in the serve process's event loop: a small fixed set of periodic jobs.

No job per item and no persistent job store: what is due lives on the items. Every job
coalesces missed runs, never overlaps itself, and tolerates a late start. Replicas on one
PostgreSQL database each run every job, with no election: each job is idempotent across
processes (see ``scheduler.jobs`` and README, "Several replicas on PostgreSQL").
"""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.cron import crontab_trigger
from scheduler.jobs import Jobs
from scheduler.timescale import ScaledTrigger, TimeScale

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


def build_scheduler(
    jobs: Jobs,
    *,
    sweep_interval: float,
    relay_interval: float,
    anchor_interval: float,
    policy_reload_interval: float,
    digest_cron: str | None = None,
    digest_timezone: str = "UTC",
    time_scale: TimeScale | None = None,
    match_interval: float | None = None,
) -> AsyncIOScheduler:
    """The scheduler with every job added (start it inside the running loop).

    ``time_scale`` (the sandbox's ``--speed``) runs the digest's cron schedule in the bot's
    faster time; the interval jobs are given shorter intervals by the caller.
    """

    def digest_trigger(cron: str, timezone: str) -> ScaledTrigger | BaseTrigger:
        trigger = crontab_trigger(cron, timezone)
        return ScaledTrigger(trigger, time_scale) if time_scale is not None else trigger

    scheduler = AsyncIOScheduler(job_defaults=JOB_DEFAULTS)
    scheduler.add_job(jobs.sla_sweep, IntervalTrigger(seconds=sweep_interval), id="sla_sweep")
    scheduler.add_job(jobs.claim_sweep, IntervalTrigger(seconds=sweep_interval), id="claim_sweep")
    scheduler.add_job(jobs.relay_tick, IntervalTrigger(seconds=relay_interval), id="relay_tick")
    scheduler.add_job(jobs.anchor, IntervalTrigger(seconds=anchor_interval), id="anchor")
    scheduler.add_job(
        jobs.policy_reload, IntervalTrigger(seconds=policy_reload_interval), id="policy_reload"
    )
    if match_interval is not None:
        scheduler.add_job(
            jobs.match_sweep, IntervalTrigger(seconds=match_interval), id="match_sweep"
        )
    if digest_cron is not None:
        scheduler.add_job(
            jobs.digest,
            digest_trigger(digest_cron, digest_timezone),
            id="digest",
        )

        def reschedule(cron: str, timezone: str) -> None:
            scheduler.reschedule_job("digest", trigger=digest_trigger(cron, timezone))

        jobs.reschedule_digest = reschedule
    return scheduler
