"""``python -m sipas_alerts``: run the alerts service."""

from sipas_alerts.app import create_app
from sipas_alerts.settings import Settings
from sipas_runtime.serving import serve


def main() -> None:
    """Build settings from the environment and serve."""
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
