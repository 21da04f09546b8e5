"""The benchmark: Mosaic and a naive baseline gateway, side by side, over HTTP.

``python -m bench`` (``--help`` for the flags, ``--quick`` for the smoke run); the
figures and how they are taken are described in ``bench/README.md``.
"""
