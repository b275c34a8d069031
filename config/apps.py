from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project itself as an app, so its system checks register at start-up
    without any domain app importing ``config``."""

    name = "config"
    label = "project"
    verbose_name = "Project"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the system checks)
        from config.logs import connect_signals

        connect_signals()
