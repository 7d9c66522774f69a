"""Make multiprocessing's platform default look like macOS or Windows, at interpreter start.

Activated by LAB_MP_PLATFORM (set in the image): ``macos`` makes ``spawn`` the platform
default and orders ``get_all_start_methods()`` as on macOS; ``windows`` also removes
``fork`` and ``forkserver``. ``linux``, ``off`` or unset change nothing.

It does what CPython itself does on those systems: the *platform default* held by
``multiprocessing.context._default_context`` becomes spawn, and the *chosen* context
(``_actual_context``) stays unset. It never calls ``set_start_method``, so a script that
calls ``set_start_method('fork')`` first thing works without ``force=True``, as on a Mac.

It is imported from a .pth (or, on 3.15+, a .start) file for every interpreter, including
spawn children. To stay cheap it does not import multiprocessing: a meta-path hook patches
``multiprocessing.context`` right after it executes, before ``multiprocessing/__init__``
copies the default context's bound methods into the package namespace.

:func:`when_context_loads` and :func:`make_default` are that mechanism, shared with
scripts/check's hook (labmatrix/check/box/hook/sitecustomize.py), which runs in these images.
"""

import os
import sys

_MODES = {"macos": ["spawn", "fork", "forkserver"], "darwin": ["spawn", "fork", "forkserver"],
          "windows": ["spawn"], "win32": ["spawn"]}


def make_default(context, method):
    """Make ``method`` the *platform default*, held where CPython holds its own
    (``multiprocessing.context._default_context``); the chosen context stays unset."""
    context._default_context._default_context = context._concrete_contexts[method]


def when_context_loads(patch):
    """Call ``patch(multiprocessing.context)`` as soon as that module has executed (or now,
    if it has), without importing multiprocessing."""
    if "multiprocessing.context" in sys.modules:
        patch(sys.modules["multiprocessing.context"])
    else:
        sys.meta_path.insert(0, _Finder(patch))


def _patch(context):
    order = _MODES[os.environ["LAB_MP_PLATFORM"].lower()]
    for name in list(context._concrete_contexts):
        if name not in order:
            del context._concrete_contexts[name]
    make_default(context, "spawn")

    def get_all_start_methods(self=None):
        return [name for name in order if name in context._concrete_contexts]

    # 3.8-3.13 hard-code the order in DefaultContext; 3.14+ derive it in BaseContext.
    context.BaseContext.get_all_start_methods = get_all_start_methods
    context.DefaultContext.get_all_start_methods = get_all_start_methods
    package = sys.modules.get("multiprocessing")
    if package is not None and hasattr(package, "get_all_start_methods"):
        package.get_all_start_methods = context._default_context.get_all_start_methods


class _Finder:
    """Runs ``patch`` right after multiprocessing.context is first executed."""

    def __init__(self, patch):
        self.patch = patch

    def find_spec(self, name, path=None, target=None):
        if name != "multiprocessing.context":
            return None
        sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            self.patch(module)

        loader.exec_module = exec_module
        return spec


def install():
    mode = os.environ.get("LAB_MP_PLATFORM", "").lower()
    if mode in _MODES:
        when_context_loads(_patch)
