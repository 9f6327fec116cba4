"""PocketTorch's errors: the public face of the error catalogue (`pockettorch.runtime.error_catalogue`).

    from pockettorch import errors
    try:
        m = pockettorch.load("model.ptm")
    except errors.BadMagicError as exc:
        print(exc.code, exc.status_name, exc.hint)

Every error is a `PocketTorchError` carrying its catalogue code, status name and hint; the catalogue module
documents the code ranges. Layers inside PocketTorch import the catalogue module, not this face.
"""
from pockettorch.runtime.error_catalogue import *  # noqa: F401,F403 (the catalogue's __all__)
from pockettorch.runtime.error_catalogue import __all__  # noqa: F401
