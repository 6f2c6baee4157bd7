"""``python -m sipas_scoring``: run the scoring service."""

from sipas_runtime.serving import serve
from sipas_scoring.app import create_app
from sipas_scoring.settings import Settings


def main() -> None:
    """Build settings from the environment and serve."""
    settings = Settings()
    # uvloop: scoring's index loop hands ~170 figures a second to the socket one by one, and
    # asyncio's selector loop and transports were a fifth of its samples (BENCHMARKS.md)
    serve(create_app(settings), settings, loop="uvloop")


if __name__ == "__main__":
    main()
