"""``python -m sipas_console``: run the console."""

from sipas_console.app import create_app
from sipas_console.settings import Settings
from sipas_runtime.serving import serve


def main() -> None:
    """Build settings from the environment and serve."""
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
