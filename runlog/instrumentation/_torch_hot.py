"""The per-batch interceptions of a PyTorch loop, as plain functions rather than wrapt proxies.

Three calls happen on every batch of a training loop: ``Tensor.backward``, a loss module's
``forward`` and the DataLoader iterator's ``__next__``. Everywhere else runlog wraps with
wrapt (`runlog.instrumentation._base`), but here its cost shows: measured in
``bench/autolog_torch.py``'s loop (a 155 µs step), a wrapt ``FunctionWrapper`` costs about
2 µs a call (it binds a new proxy and a new bound method per call), a plain function about
0.1 µs, so these three targets alone would make the loop ~4% slower. Hence `HotPatches`:

- a target is replaced by a plain function made from the original (``functools.wraps``:
  name, docstring and ``__wrapped__`` stay, so ``inspect.signature`` still works);
- restoring puts back exactly the original object, and only if the attribute is still our
  replacement (something patched on top of it is left alone: the same rule as `unwrap`);
- an attribute inherited rather than defined on the owner is not patched (it is patched
  where it is defined), and ours is never patched twice;
- a group of patches can be parked (originals back, remembered) and resumed: the loss
  modules' patches are parked once ``Tensor.backward`` is seen to give the losses.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runlog.instrumentation._base import _SUPPRESSED, safely

if TYPE_CHECKING:
    from runlog.instrumentation._torch_steps import StepTracker

#: ``make(original) -> replacement``.
Factory = Callable[[Callable[..., Any]], Callable[..., Any]]
_MARK = "_runlog_patch"


@dataclass(frozen=True, slots=True)
class _Patch:
    owner: Any
    attribute: str
    original: Any
    replacement: Any
    make: Factory


class HotPatches:
    """Plain-function patches by group; each restores exactly what it replaced."""

    def __init__(self) -> None:
        self._active: dict[str, list[_Patch]] = {}
        self._parked: dict[str, list[_Patch]] = {}

    def install(self, group: str, owner: Any, attribute: str, make: Factory) -> bool:
        """Replace ``owner.attribute`` by ``make(original)``; False if not defined there."""
        original = owner.__dict__.get(attribute)
        if original is None or getattr(original, _MARK, False):
            return False  # inherited (patched where it is defined), or already ours
        replacement = make(original)
        setattr(replacement, _MARK, True)
        setattr(owner, attribute, replacement)
        self._active.setdefault(group, []).append(
            _Patch(owner, attribute, original, replacement, make)
        )
        return True

    def park(self, group: str) -> None:
        """Put the originals of *group* back, remembering the patches for `resume`."""
        patches = self._active.pop(group, [])
        for patch in patches:
            _restore(patch)
        self._parked.setdefault(group, []).extend(patches)

    def resume(self, group: str) -> None:
        """Install the parked patches of *group* again."""
        for patch in self._parked.pop(group, []):
            self.install(group, patch.owner, patch.attribute, patch.make)

    def restore_all(self) -> None:
        """Put every original back and forget every patch (uninstrument)."""
        for patches in self._active.values():
            for patch in reversed(patches):
                _restore(patch)
        self._active.clear()
        self._parked.clear()


def _restore(patch: _Patch) -> None:
    if patch.owner.__dict__.get(patch.attribute) is patch.replacement:
        setattr(patch.owner, patch.attribute, patch.original)


def _like(original: Callable[..., Any], replacement: Callable[..., Any]) -> Callable[..., Any]:
    """*replacement* dressed as *original*: its metadata, and its module's globals.

    TorchScript compiles a loss module's ``forward`` from the original's source (found
    through ``__wrapped__``) but resolves the names in it (``F``…) through the globals of
    the function it was given, so the replacement must carry the original's. Hence the
    replacements below use closure variables and builtins only, never a global.
    """
    globals_ = getattr(original, "__globals__", None)
    if isinstance(globals_, dict):
        code = replacement.__code__
        closure = replacement.__closure__
        replacement = types.FunctionType(code, globals_, code.co_name, None, closure)
    return functools.wraps(original)(replacement)


# --- the replacements: the tracker injected, the original closed over ---------------------
# (no globals inside them: see `_like`)
def backward(tracker: StepTracker) -> Factory:
    """``Tensor.backward``: remember the tensor (one reference; nothing here can fail)."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        suppressed = _SUPPRESSED

        def backward(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            if not suppressed.get():
                if tracker.optimizers_made or self.ndim:
                    tracker.last_backward = self
                else:  # no optimizer in this process: the weights are updated by hand
                    tracker.backward_step(self)
            return result

        return _like(original, backward)

    return make


def loss_forward(tracker: StepTracker) -> Factory:
    """A ``torch.nn`` loss module's ``forward``: remember its output and the module."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        suppressed = _SUPPRESSED

        def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            if not suppressed.get():
                tracker.last_loss = result
                tracker.loss_module = self
            return result

        return _like(original, forward)

    return make


def loader_next(tracker: StepTracker) -> Factory:
    """A DataLoader iterator's ``__next__``: only its ``StopIteration`` does anything."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        suppressed, safe = _SUPPRESSED, safely

        def __next__(self: Any) -> Any:
            try:
                return original(self)
            except StopIteration:
                if not suppressed.get():
                    safe("torch: DataLoader exhausted", tracker.on_loader_exhausted, self)
                raise

        return _like(original, __next__)

    return make
