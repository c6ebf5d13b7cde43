"""Log record hooks (PII masking, credential redaction) install and uninstall in any order, dropping nothing."""

from __future__ import annotations

import itertools
import logging

import pytest

from kefu.privacy.logmask import RecordFactoryHook


def _tag(name: str) -> RecordFactoryHook:
    def rewrite(record: logging.LogRecord) -> logging.LogRecord:
        record.msg = f"{record.msg}+{name}"
        return record

    return RecordFactoryHook(rewrite)


def _msg() -> str:
    return str(logging.getLogRecordFactory()("t", logging.INFO, __file__, 1, "m", None, None).msg)


@pytest.mark.parametrize("order", list(itertools.permutations("abc")))
def test_uninstall_in_any_order_keeps_the_others(order: tuple[str, ...]) -> None:
    base = logging.getLogRecordFactory()
    hooks = {name: _tag(name) for name in "abc"}
    for name in "abc":
        hooks[name].install()
        hooks[name].install()  # idempotent
    assert _msg().endswith("m+a+b+c")
    left = set("abc")
    for name in order:
        hooks[name].uninstall()
        left.discard(name)
        assert {n for n in "abc" if f"+{n}" in _msg()} == left
        assert hooks[name].installed is False
    assert logging.getLogRecordFactory() is base  # the last one out restores the original factory


def test_a_factory_wrapped_on_top_survives() -> None:
    hook = _tag("a")
    hook.install()
    ours = logging.getLogRecordFactory()

    def theirs(*args: object, **kwargs: object) -> logging.LogRecord:
        record = ours(*args, **kwargs)
        record.msg = f"{record.msg}+theirs"
        return record

    logging.setLogRecordFactory(theirs)
    hook.uninstall()
    assert logging.getLogRecordFactory() is theirs  # not unwound from under another library
    assert _msg().endswith("m+theirs")
    hook.install()
    assert _msg().endswith("m+a+theirs")
    hook.uninstall()
    logging.setLogRecordFactory(ours)  # theirs goes away; ours stays as a pass-through, removed by the next last-out


def test_masking_and_redaction_are_independent() -> None:
    from kefu.privacy import logmask
    from kefu.security import logredact

    masking = logmask._hook.installed
    logredact.install_log_redaction()
    logmask.install_log_masking()
    logmask.uninstall_log_masking()  # used to restore the factory from before masking, dropping the redaction
    secret = "token kefu_pat_abcdef0123456789abcd"
    record = logging.getLogRecordFactory()("t", logging.INFO, __file__, 1, secret, None, None)
    assert "kefu_pat_abcdef0123456789abcd" not in record.getMessage()
    assert logredact._hook.installed
    if masking:
        logmask.install_log_masking()  # as the application had it
