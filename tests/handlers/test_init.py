"""The method table (``handlers/__init__.py``): each method one hop from its NSID, a module of the folder of its
namespace (handlers/admin/, handlers/metrics/…) named after it, or a trigger method of the job-type table; no handler
for a method the lexicons do not define."""

from __future__ import annotations

import importlib
import pkgutil

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES, UPSTREAM
from chive_admin.backfill.job_types import TRIGGER_METHODS
from chive_admin.handlers import HANDLERS, activity, admin, metrics, search

#: each folder of method modules, and the prefix of its namespace's names in ``ids``
FOLDERS = {
    admin: "PUB_CHIVE_ADMIN_",
    metrics: "PUB_CHIVE_METRICS_",
    activity: "PUB_CHIVE_ACTIVITY_",
    search: "DEV_CHIVEADMIN_SEARCH_",
}


def method_modules() -> dict[str, str]:
    """The NSID each module of the method folders is named after, by module path."""
    return {
        f"{folder.__name__}.{info.name}": getattr(ids, f"{prefix}{info.name.upper()}")
        for folder, prefix in FOLDERS.items()
        for info in pkgutil.iter_modules(folder.__path__)
    }


def test_each_module_of_the_methods_folder_serves_the_method_it_is_named_after() -> None:
    modules = method_modules()
    assert modules  # and each name is an NSID of the generated ids, or getattr above fails
    for name, nsid in modules.items():
        module = importlib.import_module(name)
        assert HANDLERS[nsid] is module.handle, name
        assert module.__doc__ is not None
        assert module.__doc__.startswith(f"{nsid}: "), name


def test_every_handler_is_a_method_module_or_a_trigger_method() -> None:
    assert set(HANDLERS) == set(method_modules().values()) | set(TRIGGER_METHODS.values())


def test_only_methods_the_lexicons_define_are_served() -> None:
    assert set(HANDLERS) <= set(ROUTES)
    assert not set(HANDLERS) & set(UPSTREAM)
    assert all(
        nsid.startswith(("pub.chive.admin.", "pub.chive.metrics.", "pub.chive.activity.", "dev.chiveadmin."))
        for nsid in HANDLERS
    )
