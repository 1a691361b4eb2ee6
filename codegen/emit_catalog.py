"""Emit ``ids.py`` (NSID constants) and ``catalog.py`` (one Route per XRPC method, one model per record)."""

from __future__ import annotations

from typing import Any

from atproto_lexicon import models as lex

from codegen import naming
from codegen.emit_models import BANNER, import_module_as, import_sort_key
from codegen.policy import UPSTREAM, policy_for
from codegen.schema import LexiconSet

_PARAM_KIND = {"string": "STRING", "integer": "INTEGER", "boolean": "BOOLEAN", "unknown": "UNKNOWN"}


def emit_ids(lexset: LexiconSet) -> str:
    lines = [BANNER.rstrip("\n"), '"""NSID of every lexicon: the only place an NSID is spelt out."""', ""]
    lines.append("from typing import Final")
    lines.append("")
    for loaded in lexset:
        lines.append(f"{naming.const_name(loaded.doc.id)}: Final = {loaded.doc.id!r}")
    lines.append("")
    lines.append("ALL: Final[frozenset[str]] = frozenset({")
    lines.extend(f"    {naming.const_name(loaded.doc.id)}," for loaded in lexset)
    lines.append("})")
    return "\n".join(lines) + "\n"


def _param_specs(params: lex.LexXrpcParameters | None, nsid: str) -> str:
    if params is None or not params.properties:
        return "{}"
    items = []
    for name, schema in params.properties.items():
        is_array = isinstance(schema, lex.LexArray)
        item: Any = schema.items if isinstance(schema, lex.LexArray) else schema
        kind = _PARAM_KIND.get(item.type)
        if kind is None:
            raise ValueError(f"{nsid}: parameter {name!r} has type {item.type!r}, which params cannot carry")
        flag = ", is_array=True" if is_array else ""
        items.append(f"{name!r}: lex.ParamSpec(lex.ParamKind.{kind}{flag})")
    return "{" + ", ".join(items) + "}"


def _body_model(alias: str, body: lex.LexXrpcBody | None, name: str) -> tuple[str, str]:
    if body is None:
        return "None", "None"
    encoding = body.encoding if isinstance(body.encoding, str) else ",".join(body.encoding)
    model = f"{alias}.{name}" if body.schema_ is not None else "None"
    return model, repr(encoding)


def emit_catalog(lexset: LexiconSet) -> str:
    imports: list[str] = []
    routes: list[str] = []
    upstream: list[str] = []
    records: list[str] = []
    for loaded in lexset:
        doc = loaded.doc
        main = doc.defs.get("main")
        alias = naming.module_alias(doc.id)
        const = f"ids.{naming.const_name(doc.id)}"
        if isinstance(main, lex.LexRecord):
            imports.append(import_module_as(doc.id, alias))
            records.append(f"    {const}: {alias}.Record,")
            continue
        if not isinstance(main, lex.LexXrpcQuery | lex.LexXrpcProcedure):
            continue
        imports.append(import_module_as(doc.id, alias))
        is_procedure = isinstance(main, lex.LexXrpcProcedure)
        input_model, input_encoding = (
            _body_model(alias, main.input, "Input") if isinstance(main, lex.LexXrpcProcedure) else ("None", "None")
        )
        output_model, output_encoding = _body_model(alias, main.output, "Output")
        errors = tuple(e.name for e in main.errors or [])
        policy = policy_for(doc.id)
        (upstream if policy == UPSTREAM else routes).append(
            "\n".join(
                [
                    f"    {const}: lex.Route(",
                    f"        nsid={const},",
                    f"        kind={'procedure' if is_procedure else 'query'!r},",
                    f"        params={alias}.Params,",
                    f"        param_specs={_param_specs(main.parameters, doc.id)},",
                    f"        input={input_model},",
                    f"        input_encoding={input_encoding},",
                    f"        output={output_model},",
                    f"        output_encoding={output_encoding},",
                    f"        errors={errors!r},",
                    f"        auth={policy!r},",
                    f"        description={' '.join((main.description or '').split())!r},",
                    "    ),",
                ]
            )
        )
    lines = [BANNER.rstrip("\n"), '"""Every XRPC method and record type the lexicons define."""', ""]
    lines.append("from collections.abc import Mapping")
    lines.append("from types import MappingProxyType")
    lines.append("from typing import Final")
    lines.append("")
    lines.append("from chive_admin import lex")
    lines.append("from chive_admin._generated import ids")
    lines.extend(sorted(imports, key=import_sort_key))
    lines.append("")
    lines.append("ROUTES: Final[Mapping[str, lex.Route]] = MappingProxyType({")
    lines.extend(routes)
    lines.append("})")
    lines.append("")
    lines.append("# methods this server calls on other servers, for their typed models; never served")
    lines.append("UPSTREAM: Final[Mapping[str, lex.Route]] = MappingProxyType({")
    lines.extend(upstream)
    lines.append("})")
    lines.append("")
    lines.append("RECORDS: Final[Mapping[str, type[lex.LexModel]]] = MappingProxyType({")
    lines.extend(records)
    lines.append("})")
    return "\n".join(lines) + "\n"


def emit_package(lexset: LexiconSet) -> dict[str, str]:
    return {
        "__init__.py": BANNER + '"""Code generated from lexicons/ by ``python -m codegen``."""\n',
        "ids.py": emit_ids(lexset),
        "catalog.py": emit_catalog(lexset),
    }
