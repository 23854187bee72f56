"""Typed application keys of the bulk-job resources."""

from __future__ import annotations

from aiohttp import web

from verify.service.jobs import JobQueue, JobStore

JOB_STORE = web.AppKey("job_store", JobStore)
JOB_QUEUE = web.AppKey("job_queue", JobQueue)
