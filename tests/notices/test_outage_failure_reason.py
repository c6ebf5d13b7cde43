"""The outage page and the conversation timeline read a stored send failure through one definition."""

from __future__ import annotations


def test_both_delivery_views_share_one_failure_reading() -> None:
    """One mixin gives `code` and `detail` to the outbox's and the notices' delivery views (no copies to drift)."""
    from kefu.channels import outbox
    from kefu.channels.types import FailureReason
    from kefu.notices import broadcasts

    for view in (outbox.Delivery, broadcasts.Delivery):
        assert issubclass(view, FailureReason)
        assert "code" not in vars(view) and "detail" not in vars(view)
    failed = outbox.Delivery(outbox_id=1, state="failed", error="[rate_limited] LineRetryableError: 429", attempts=8)
    assert (failed.code, failed.detail) == ("rate_limited", "LineRetryableError: 429")
    raw = outbox.Delivery(outbox_id=2, state="failed", error="SMTP 421 try later", attempts=8)
    assert (raw.code, raw.detail) == (None, "SMTP 421 try later")
