"""``python -m sipas_intake``: run the intake service."""

from sipas_intake.app import create_app
from sipas_intake.settings import Settings
from sipas_runtime.serving import serve


def main() -> None:
    """Build settings from the environment and serve."""
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
