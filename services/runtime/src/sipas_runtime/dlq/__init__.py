"""Dead letters, from the consumer that sets one aside to the operator who replays it.

- :mod:`~sipas_runtime.dlq.letters` writes them: a consumer that gives up on a message
  puts it on the DLQ stream with the reason and records it in its own store;
- :mod:`~sipas_runtime.dlq.command` reads them (``sipas dlq list``) and asks for replays
  (``sipas dlq replay``);
- :mod:`~sipas_runtime.dlq.replay` is the service's side of a replay: the message is
  applied again, exactly once, to the consumer that recorded the letter.
"""
