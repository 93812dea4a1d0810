"""Loaded by every Python process a fast-lane test starts (tests/conftest.py puts this folder on
PYTHONPATH for tests without the `model` marker): starting an embedded server or training there is
an error. The modules are patched as they are imported (a process that never imports them, such
as a tool the test runs, pays nothing)."""

import importlib.abc
import importlib.machinery
import sys

WHY = ("smolopt test harness: a test outside the model lane started a model server or trained "
       "(give it a model fixture or `starts_models`, tests/conftest.py)")


def _refuse(*_args, **_kwargs):
    sys.exit(WHY)


GUARDED = {"smolopt.backends.embedded": ("EmbeddedServer", "launch"), "smolopt.tune.lora": ("Lora", "attach")}


class _Guard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in GUARDED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            owner, method = GUARDED[name]
            setattr(getattr(module, owner), method, _refuse)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Guard())
