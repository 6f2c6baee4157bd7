"""``python -m sipas_sampling``: run the sampling service."""

from sipas_runtime.serving import serve
from sipas_sampling.app import create_app
from sipas_sampling.settings import Settings


def main() -> None:
    """Build settings from the environment and serve."""
    settings = Settings()
    # uvloop: the deciding consumer's batches, decisions and checkpoints cross NATS and Mongo
    # sockets a thousand times a second; less CPU per dossier on it (BENCHMARKS.md)
    serve(create_app(settings), settings, loop="uvloop")


if __name__ == "__main__":
    main()
