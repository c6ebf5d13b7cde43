"""Privacy tests reuse the channel fixtures (private data dir, inbox factory, loopback provider APIs)."""

from tests.channels.conftest import _data_dir, inbox, line_api, messenger_api  # noqa: F401 - fixtures
