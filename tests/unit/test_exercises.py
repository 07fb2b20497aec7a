"""The exercise framework: comparisons with diagnostics, and which function a chapter goes on with."""

import math

import pytest
import torch

from toylab import exercises
from toylab.exercises import Case


def test_compare_says_what_differs():
    assert exercises.compare(torch.ones(3), torch.ones(3)) is None
    assert exercises.compare(1.0, torch.tensor(1.00001)) is None
    assert "shape (2, 3)" in exercises.compare(torch.ones(3), torch.ones(2, 3))
    msg = exercises.compare(torch.tensor([1.0, 2.0, 5.0]), torch.tensor([1.0, 2.0, 3.0]))
    assert "expected 3" in msg and "(2,)" in msg and "got 5" in msg
    assert "2 values" in exercises.compare((1.0,), (1.0, 2.0))
    assert "value 1" in exercises.compare((1.0, 3.0), (1.0, 2.0))
    assert "got nan" in exercises.compare(torch.tensor([math.nan]), torch.tensor([0.0]))
    assert "number or tensor" in exercises.compare("abc", 1.0)


def double(x):
    return 2 * x


CASES = [Case("a vector", (torch.arange(3.0),)), Case("zero", (torch.zeros(1),))]


def test_check_goes_on_with_the_readers_function_only_when_it_is_right(capsys):
    def stub(x):
        raise NotImplementedError

    def right(x):
        return x + x

    assert exercises.check(right, double, CASES) is right
    assert "now uses your function" in capsys.readouterr().out
    assert exercises.check(stub, double, CASES) is double
    assert "Not implemented yet" in capsys.readouterr().out
    assert exercises.check(lambda x: x, double, CASES) is double
    assert "On the case 'a vector'" in capsys.readouterr().out
    assert exercises.check(lambda x: x.foo, double, CASES) is double
    assert "raised AttributeError" in capsys.readouterr().out
    with pytest.raises(ValueError, match="at least one case"):
        exercises.check(right, double, [])


def test_nan_must_be_where_it_is_expected():
    nan = float("nan")
    assert exercises.compare(torch.tensor([1.0, nan]), torch.tensor([1.0, nan])) is None
    assert exercises.compare(nan, nan) is None
    assert "expected nan" in exercises.compare(0.0, nan)
    assert "got nan" in exercises.compare(torch.tensor([nan, 1.0]), torch.tensor([2.0, 1.0]))
