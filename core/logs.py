"""Plain, line-oriented logs to stderr; the process supervisor keeps them."""

import logging


def configure(name: str) -> logging.Logger:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    return logging.getLogger(name)
