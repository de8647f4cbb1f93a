"""Schemathesis hooks for `make contract`.

`cargo lambda watch` (the local Lambda emulator behind `make dev`) answers 500 by itself, before any
function runs, to a request body that is not UTF-8; API Gateway instead base64-encodes such bodies,
and the routers answer 400 (tests/tests/events.rs checks that path). Those bodies are therefore
left out here: they would test the emulator, not the registry.
"""

import schemathesis


def _is_utf8(value) -> bool:
    if isinstance(value, (bytes, bytearray)):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.hook
def filter_body(ctx, body):
    return _is_utf8(body)
