"""Tasks named rather than imported.

A task module imports the services it runs; a service that enqueues that task names
it instead, so the two never import each other. Every app's tasks are registered at
start-up (``app.autodiscover_tasks`` and each app's ``ready``), so routing and eager
mode apply as for an imported task.
"""

from __future__ import annotations


def task(name: str, *args, **kwargs):
    """An immutable signature of the registered task ``name`` (dotted path)."""
    from celery import current_app

    return current_app.signature(name, args=args, kwargs=kwargs, immutable=True)
