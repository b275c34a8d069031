"""Re-encryption of every encrypted field under the newest key.

A value names the key that wrote it (``v1:<key_id>:…``), so rows already under the
newest key are skipped without decrypting: a stopped run resumes where it was, and
when nothing is left under an old key, that key can be removed from settings.
Blind indexes use their own key and do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.apps import apps
from django.db import models, transaction

from consent import crypto
from consent.models import AppendOnlyModel

ENCRYPTED_SUFFIX = "_encrypted"


def encrypted_fields() -> Iterator[tuple[type[models.Model], str]]:
    """Every ``*_encrypted`` text column of every installed model."""
    for model in apps.get_models():
        if issubclass(model, AppendOnlyModel) or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if field.name.endswith(ENCRYPTED_SUFFIX) and isinstance(
                field, models.CharField | models.TextField
            ):
                yield model, field.name


def stale_rows(model: type[models.Model], field: str) -> models.QuerySet:
    """Rows of this field not yet under the newest key."""
    current = f"{crypto.PREFIX}:{crypto.current_key_id()}:"
    return (
        model._default_manager.exclude(**{f"{field}__isnull": True})
        .exclude(**{field: ""})
        .exclude(**{f"{field}__startswith": current})
    )


def field_rotate(
    *,
    model: type[models.Model],
    field: str,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-encrypt one field in batches, each batch its own short transaction."""
    done = 0
    last_pk = None
    while True:
        with transaction.atomic():
            batch_qs = stale_rows(model, field).order_by("pk")
            if last_pk is not None:
                batch_qs = batch_qs.filter(pk__gt=last_pk)
            batch = list(batch_qs.select_for_update().only("pk", field)[:batch_size])
            if not batch:
                return done
            for obj in batch:
                setattr(obj, field, crypto.encrypt(crypto.decrypt(getattr(obj, field))))
            model._default_manager.bulk_update(batch, [field])
        last_pk = batch[-1].pk
        done += len(batch)
        if progress is not None:
            progress(len(batch))
