"""The role permission matrix: which model permissions each staff group holds.

Least privilege: every role gets only what its work needs. The matrix names models
by app label and model name and is applied by codename, so it works for models that
do not exist yet: ``manage.py sync_roles`` and the post-migrate handler re-apply it
after every migration, and each group ends with exactly the listed permissions.
"""

from __future__ import annotations

from backoffice.roles import (
    ALL_ROLES,
    AUDITOR,
    BRANCH,
    CALL_CENTRE,
    COMPLAINT_HANDLER,
    COMPLAINT_REVIEWER,
    COMPLIANCE_OFFICER,
    SUPERVISOR,
)

VIEW = ("view",)
VIEW_CHANGE = ("view", "change")
VIEW_ADD = ("view", "add")
WORK = ("view", "add", "change")
ALL_MODELS = "*"

# Call-centre agents and branch staff record what the customer says, at once: they
# look a customer up (access-logged) and add assisted records, nothing else.
ASSISTED = [
    ("backoffice", "assistedrecord", VIEW_ADD),
    ("consent", "customer", VIEW),
    ("consent", "contactpoint", VIEW),
    ("consent", "consentstate", VIEW),
    ("consent", "channel", VIEW),
    ("consent", "topic", VIEW),
]

# (app label, model name or "*", actions). Actions are view/add/change/delete or a
# full custom codename such as "unmask_contact".
MATRIX: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    COMPLAINT_HANDLER: [
        # Handlers record complaints taken by phone, in a branch or by letter.
        ("complaints", "complaint", WORK),
        ("complaints", "complaintevent", VIEW),
        ("complaints", "complaintnote", VIEW_ADD),
        ("complaints", "complaintmessage", VIEW_ADD),
        ("complaints", "complaintextension", VIEW_ADD),
        ("complaints", "complaintreview", VIEW),
        ("complaints", "matter", VIEW),
        ("complaints", "rightsrequest", VIEW_CHANGE),
        ("complaints", "rightsrequestmessage", VIEW),
        ("consent", "customer", VIEW),
        ("consent", "contactpoint", VIEW),
        ("consent", "channel", VIEW),
        ("consent", "topic", VIEW),
    ],
    COMPLAINT_REVIEWER: [
        # Reviewers see the complaints whose review they hold and decide it.
        ("complaints", "complaint", VIEW_CHANGE),
        ("complaints", "complaintevent", VIEW),
        ("complaints", "complaintnote", VIEW_ADD),
        ("complaints", "complaintmessage", VIEW),
        ("complaints", "complaintreview", VIEW_CHANGE),
        ("consent", "customer", VIEW),
        ("consent", "contactpoint", VIEW),
        ("consent", "channel", VIEW),
        ("consent", "topic", VIEW),
    ],
    SUPERVISOR: [
        ("complaints", ALL_MODELS, WORK),
        ("consent", "customer", VIEW),
        ("consent", "contactpoint", VIEW),
        ("consent", "consentstate", VIEW),
        ("consent", "consentevent", VIEW),
        ("consent", "channel", VIEW),
        ("consent", "topic", VIEW),
        ("consent", "replyreview", VIEW_CHANGE),
        ("backoffice", "approvalrequest", VIEW_ADD),
        ("backoffice", "accesslog", ("unmask_contact", "export_data")),
    ],
    COMPLIANCE_OFFICER: [
        ("consent", ALL_MODELS, VIEW),
        ("consent", "customer", ("change",)),
        ("consent", "channel", ("change",)),
        ("consent", "topic", ("add", "change")),
        ("consent", "noticeversion", ("add",)),
        ("consent", "suppressedidentifier", ("change",)),
        ("consent", "inboundevent", ("change",)),
        ("consent", "replyreview", ("change",)),
        ("consent", "apiclient", ("add", "change")),
        ("consent", "apikey", ("add", "change")),
        ("consent", "senderfeedposition", ("change",)),
        ("consent", "webhookendpoint", ("add", "change")),
        ("preferences", ALL_MODELS, VIEW),
        ("preferences", "notmereport", ("change",)),
        ("preferences", "erasurerequest", ("change",)),
        ("preferences", "nextofkinreport", ("change",)),
        ("complaints", ALL_MODELS, VIEW),
        ("complaints", "rightsrequest", ("change",)),
        ("backoffice", "accesslog", ("view", "unmask_contact", "export_data")),
        ("backoffice", "anomalyalert", VIEW_CHANGE),
        ("backoffice", "sendincident", VIEW_CHANGE),
        ("backoffice", "approvalrequest", (*WORK, "approve_approvalrequest")),
        ("backoffice", "assistedrecord", VIEW),
    ],
    CALL_CENTRE: ASSISTED,
    BRANCH: ASSISTED,
    AUDITOR: [
        ("consent", ALL_MODELS, VIEW),
        ("preferences", ALL_MODELS, VIEW),
        ("complaints", ALL_MODELS, VIEW),
        ("backoffice", ALL_MODELS, VIEW),
        ("backoffice", "accesslog", ("export_data",)),
        ("axes", ALL_MODELS, VIEW),
    ],
}

# Models whose rows staff never change by hand, whatever the matrix says: evidence
# and derived tables are written by services only.
NEVER_WRITABLE = {
    ("consent", "consentevent"),
    ("consent", "consentstate"),
    ("consent", "contactability"),
    ("consent", "suppressionchange"),
    ("consent", "ledgerhead"),
    ("consent", "optout"),
    ("consent", "webhookdelivery"),
    ("backoffice", "accesslog"),
}


def codenames_for(role: str, app_label: str, model_names: list[str]) -> set[str]:
    """The permission codenames a role holds on one app's models."""
    wanted: set[str] = set()
    for label, model, actions in MATRIX[role]:
        if label != app_label:
            continue
        targets = model_names if model == ALL_MODELS else [model]
        for target in targets:
            if target not in model_names:
                continue
            for action in actions:
                if action in ("view", "add", "change", "delete"):
                    if action != "view" and (label, target) in NEVER_WRITABLE:
                        continue
                    wanted.add(f"{action}_{target}")
                else:
                    wanted.add(action)
    return wanted


def apply_role_permissions(apps, app_labels: list[str] | None = None) -> dict:
    """Create the role groups and give each exactly its matrix permissions on the
    given apps (all installed apps by default). ``apps`` is a model registry, the
    global one or a migration's historical one."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    labels = app_labels or [config.label for config in apps.get_app_configs()]
    summary: dict[str, int] = {}
    for role in ALL_ROLES:
        group, _created = Group.objects.get_or_create(name=role)
        for label in labels:
            try:
                config = apps.get_app_config(label)
            except LookupError:
                continue
            model_names = [m._meta.model_name for m in config.get_models()]
            wanted = codenames_for(role, label, model_names)
            current = set(
                group.permissions.filter(content_type__app_label=label).values_list(
                    "codename", flat=True
                )
            )
            extra = current - wanted
            if extra:
                group.permissions.remove(
                    *Permission.objects.filter(
                        content_type__app_label=label, codename__in=extra
                    )
                )
            missing = wanted - current
            if missing:
                group.permissions.add(
                    *Permission.objects.filter(
                        content_type__app_label=label, codename__in=missing
                    )
                )
        summary[role] = group.permissions.count()
    return summary


def sync_roles_after_migrate(sender, app_config=None, apps=None, **kwargs):
    """Runs after each app's own permissions are created by ``django.contrib.auth``,
    after ``migrate`` and after ``flush`` alike."""
    from django.apps import apps as global_apps

    if app_config is None or not global_apps.is_installed("django.contrib.auth"):
        return
    registry = apps or global_apps
    try:
        registry.get_model("auth", "Group")
    except LookupError:
        return
    apply_role_permissions(registry, [app_config.label])
