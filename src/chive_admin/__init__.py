"""chive-admin: an ATProto XRPC admin and backfill server for the pub.chive.admin lexicons."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chive-admin")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
