"""The one test every coded exercise gets: its check tells a right answer from a wrong one."""

from collections.abc import Callable, Sequence

from toylab import exercises


def assert_check_tells_right_from_wrong(
    reference: Callable,
    right: Callable,
    wrong: Callable,
    cases: Sequence[exercises.Case],
    compare: exercises.Compare = exercises.compare,
) -> None:
    """The check accepts ``right``, refuses ``wrong`` naming the case it got wrong, and the
    chapter goes on with the reader's function only when it is right."""
    ok, message = exercises.passes(right, reference, cases, compare)
    assert ok, message
    ok, message = exercises.passes(wrong, reference, cases, compare)
    assert not ok and message.startswith("On the case"), message
    assert exercises.check(right, reference, cases, compare) is right
    assert exercises.check(wrong, reference, cases, compare) is reference
