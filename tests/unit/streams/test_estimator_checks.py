"""River-style checks run on every detector and policy class, found automatically."""

from __future__ import annotations

import doctest
import inspect
import pickle
import random

import pytest

import streams.detectors
import streams.policy


def discovered() -> list[type]:
    classes = []
    for package in (streams.detectors, streams.policy):
        for name in package.__all__:
            obj = getattr(package, name)
            if inspect.isclass(obj):
                classes.append(obj)
    return classes


def make(cls: type) -> object:
    if cls.__name__ == "RiverDetector":
        return cls("kswin", {"window_size": 60, "stat_size": 20}, seed=3)
    if cls.__name__ == "ThresholdDetector":
        return cls("accuracy", "<", 0.5)
    if cls.__name__ == "PeriodicDetector":
        return cls(every=7)
    if cls.__name__ == "ReferenceScale":
        return cls(reference=100, clip=0.02, non_negative=False)
    if cls.__name__ == "RetrainTrigger":
        return cls(["critical"], cooldown=10.0, min_labels=5)
    if cls.__name__ == "WarningLimit":
        return cls(limit=3, period=40.0)
    return cls(min_samples=10, warmup=5, confirmations=2, confirm_within=20, cooldown=30)


def drive(obj: object, n: int = 400) -> list[object]:
    rng = random.Random(11)
    out = []
    for i in range(n):
        x = rng.random() + (0.5 if i > n // 2 else 0.0)
        if hasattr(obj, "observe"):
            out.append(obj.observe(i, x > 1.2))
        elif hasattr(obj, "allow"):
            out.append(obj.allow(float(i) * x))
        elif hasattr(obj, "should_request"):
            out.append(obj.should_request("critical" if x > 1.0 else "warning", i, float(i)))
        else:
            out.append(obj.update(x))
    return out


CLASSES = discovered()


def test_discovers_every_class() -> None:
    names = {cls.__name__ for cls in CLASSES}
    assert {
        "RiverDetector",
        "ThresholdDetector",
        "PeriodicDetector",
        "ReferenceScale",
        "AlertPolicy",
        "RetrainTrigger",
        "WarningLimit",
    } <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_docstring_has_a_passing_example(cls: type) -> None:
    assert cls.__doc__ and "Examples" in cls.__doc__, f"{cls.__name__} needs an Examples section"
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner()
    for test in finder.find(cls, cls.__name__, globs=vars(inspect.getmodule(cls)).copy()):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_picklable_mid_stream_and_continues_identically(cls: type) -> None:
    obj = make(cls)
    drive(obj, 150)
    clone = pickle.loads(pickle.dumps(obj))
    assert drive(obj) == drive(clone)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_deterministic_under_a_seed(cls: type) -> None:
    assert drive(make(cls)) == drive(make(cls))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_constructor_stores_params_under_their_names(cls: type) -> None:
    obj = make(cls)
    for name in inspect.signature(cls.__init__).parameters:
        if name != "self":
            assert hasattr(obj, name), f"{cls.__name__} must store {name!r}"
