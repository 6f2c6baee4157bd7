"""``python -m sipas_scoring``: run the scoring service."""

from sipas_runtime.serving import serve
from sipas_scoring.app import create_app
from sipas_scoring.settings import Settings


def main() -> None:
    """Build settings from the environment and serve."""
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
