"""``python -m sipas_intake``: run the intake service."""

from sipas_intake.app import create_app
from sipas_intake.settings import Settings
from sipas_runtime.serving import serve


def main() -> None:
    """Build settings from the environment and serve."""
    settings = Settings()
    # uvloop: intake's raw consumer moves thousands of records a second through NATS and
    # Mongo sockets; asyncio's selector loop and transports cost ~8 % of its CPU (BENCHMARKS.md)
    serve(create_app(settings), settings, loop="uvloop")


if __name__ == "__main__":
    main()
