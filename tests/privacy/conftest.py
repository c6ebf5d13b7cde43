"""Privacy tests reuse the channel fixtures (private data dir, inbox factory, loopback provider and mail servers)."""

from tests.channels.conftest import _data_dir, inbox, line_api, messenger_api  # noqa: F401 - fixtures
from tests.channels.servers import upstream  # noqa: F401 - fixture
from tests.channels.test_email import receiver  # noqa: F401 - fixture
