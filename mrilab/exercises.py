"""Checks of the graded exercises, written once: run in the book, graded by otter-grader in the classroom edition.

A chapter's checks are plain functions decorated with :func:`check`; their parameters name what they test (the
student's function, or a variable of the notebook). In the book the decorator calls the check at once with those
names taken from the notebook's globals and raises if it fails, so every executed chapter proves that its solutions
pass. ``tools/classroom.py`` writes the same functions into otter-grader's exception-based test files, with
``@otter.test_files.test_case`` in place of ``@check``; the student notebooks run them with ``grader.check``, which
resolves the parameters the same way.

Public checks test behaviour, not by re-implementing the answer: they compare with properties, with the library's
own result where the exercise names it, or with a few values computed once and stored. A reference implementation
belongs in a hidden check (``tools/classroom.py leaks --notebooks`` fails if one reaches a student notebook). Where
the library already holds what the student is asked to write, :func:`written_without` makes a check fail a
submission that merely calls it.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Callable
from types import FrameType

import numpy as np
import torch

LABEL = re.compile(r"ex-[a-z0-9]+(-[a-z0-9]+)*")


def check(exercise: str, *, hidden: bool = False, points: float = 1) -> Callable[[Callable[..., None]], Callable]:
    """Run a check of ``exercise`` now, against the calling notebook's names, and mark it for the classroom edition.

    Parameters
    ----------
    exercise
        The exercise's label, as in its ``{exercise}`` directive (``ex-<chapter>-<name>``).
    hidden
        Whether the check is for grading only: the student notebooks run the public checks, the teacher's
        autograder runs all of them.
    points
        What the check is worth when graded.

    Returns
    -------
    Callable
        A decorator that runs the check and returns it unchanged; ``tools/classroom.py`` reads the decorator's
        arguments from the chapter's source.
    """
    if not isinstance(exercise, str) or not LABEL.fullmatch(exercise):
        raise ValueError(f"exercise must be a label like 'ex-ifr-xstep', got {exercise!r}")
    if not points > 0:
        raise ValueError(f"points must be positive (a check worth nothing cannot fail a stub), got {points!r}")

    def run(test: Callable[..., None]) -> Callable[..., None]:
        names = list(inspect.signature(test).parameters)
        missing = [name for name in names if name not in test.__globals__]
        if missing:
            raise NameError(f"check {test.__name__} of {exercise} needs {missing}, which the notebook does not define")
        test(**{name: test.__globals__[name] for name in names})
        print(f"{exercise}: {test.__name__} passed" + (" (hidden check)" if hidden else ""))
        return test

    return run


def written_without(answer: Callable, *library: Callable) -> Callable:
    """Wrap a student's ``answer`` so that a call of it fails if it calls any of ``library``, what it should replace.

    An exercise that asks for, say, eq. (6) in k-space cannot be answered by ``x_step = MRIOperator(mask).soft_dc``:
    a check wraps the answer once, ``x_step = written_without(x_step, MRIOperator.soft_dc)``, and calls it as before.
    While the wrapped answer runs, a profile hook (:func:`sys.setprofile`) watches every call it makes, however
    indirect (a helper of the student's, a bound method, a lambda, ``functools.partial``); if one of ``library`` was
    called, the call raises an :class:`AssertionError` that names it. Calls of the library outside the answer (the
    check's own reference values) are not watched.

    Parameters
    ----------
    answer
        The student's function (any callable).
    library
        The forbidden functions: plain or decorated functions, methods given through their class
        (``MRIOperator.soft_dc``), built-ins (``torch.fft.fft2``), or classes, which stand for their constructor.

    Returns
    -------
    Callable
        A function with ``answer``'s signature that returns what ``answer`` returns.
    """
    if not callable(answer):
        raise AssertionError(f"expected a function, got {_describe(answer)} (is the exercise answered?)")
    if not library:
        raise ValueError("written_without needs at least one library function to watch for")
    codes, builtins = {}, {}
    for function in library:
        target = function.__init__ if isinstance(function, type) else function
        target = inspect.unwrap(getattr(target, "__func__", target))
        name = f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', repr(function))}"
        code = getattr(target, "__code__", None)
        if code is not None:
            codes[code] = name.lstrip(".")
        elif callable(target):
            builtins[id(target)] = name.lstrip(".")
        else:
            raise TypeError(f"library must hold functions, methods or classes, got {function!r}")
    what = getattr(answer, "__name__", "the answer")

    @functools.wraps(answer)
    def watched(*args: object, **kwargs: object) -> object:
        called: list[str] = []

        def hook(frame: FrameType, event: str, arg: object) -> None:
            if event == "call" and frame.f_code in codes:
                called.append(codes[frame.f_code])
            elif event == "c_call" and id(arg) in builtins:
                called.append(builtins[id(arg)])

        previous = sys.getprofile()
        sys.setprofile(hook)
        try:
            result = answer(*args, **kwargs)
        finally:
            sys.setprofile(previous)
        if called:
            raise AssertionError(f"{what} calls {called[0]}, which the exercise asks you to replace: write it "
                                 "without calling that function")
        return result

    return watched


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor | np.ndarray):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    return repr(value) if len(repr(value)) < 80 else f"{type(value).__name__} {repr(value)[:77]}..."


def assert_close(got: object, expected: object, what: str, *, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Fail with a message that says what was expected and what was got, unless ``got`` matches ``expected``.

    Parameters
    ----------
    got
        The student's result: a tensor, an array or a number.
    expected
        The reference result, of the same kind.
    what
        The call or quantity being checked, as the student would write it (``"x_step(u, y, mask, 0.5)"``).
    rtol, atol
        Tolerances, as in :func:`torch.allclose`.
    """
    if got is None or got is Ellipsis:
        raise AssertionError(f"{what}: expected {_describe(expected)}, got {got!r} (is the exercise answered?)")
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            raise AssertionError(f"{what}: expected {_describe(expected)}, got {_describe(got)}")
        if got.shape != expected.shape:
            raise AssertionError(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
        if got.is_complex() != expected.is_complex():
            raise AssertionError(f"{what}: expected dtype {expected.dtype}, got {got.dtype}")
        got_, expected_ = got.detach().to(torch.complex128), expected.detach().to(torch.complex128)
    else:
        expected_ = torch.as_tensor(np.asarray(expected, dtype=complex))
        try:
            got_ = torch.as_tensor(np.asarray(got.detach() if isinstance(got, torch.Tensor) else got, dtype=complex))
        except (TypeError, ValueError):
            raise AssertionError(f"{what}: expected {_describe(expected)}, got {_describe(got)}") from None
        if got_.shape != expected_.shape:
            raise AssertionError(f"{what}: expected {_describe(expected)}, got {_describe(got)}")
    if not torch.allclose(got_, expected_, rtol=rtol, atol=atol):
        if got_.numel() == 1:
            raise AssertionError(f"{what}: expected {_number(expected_)}, got {_number(got_)}")
        error = (got_ - expected_).abs().max().item()
        raise AssertionError(f"{what}: the largest difference from the expected values is {error:.3g} "
                             f"(tolerance {atol:g} + {rtol:g}·|expected|)")


def _number(value: torch.Tensor) -> str:
    z = complex(value.reshape(()).item())
    return f"{z.real:.6g}" if z.imag == 0 else f"{z:.6g}"
