"""Read openness declarations (MOT model.yml, bundle manifests, Hugging Face model cards) and write MOT yml."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from trustaudit import yamlsafe
from trustaudit.openness.components import BY_NAME, FINAL_PARAMETERS, MODEL_CARD, closest_component
from trustaudit.openness.errors import OpennessInputError
from trustaudit.openness.models import ComponentDecl, Declaration

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

MANIFEST_NAME = "trustaudit.yaml"
_COMPONENT_KEYS = tuple(ComponentDecl.model_fields)


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TAGS = {
    ScalarNode: "tag:yaml.org,2002:str",
    SequenceNode: "tag:yaml.org,2002:seq",
    MappingNode: "tag:yaml.org,2002:map",
}


class _TextLoader(getattr(yaml, "CBaseLoader", yaml.BaseLoader)):  # type: ignore[misc]
    """libyaml composer without implicit tag resolution: every scalar stays text (nulls are handled by _build)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return _TAGS[kind]


class _NeedFullLoader(Exception):
    pass


def _build(node: Any) -> Any:
    cls = node.__class__
    if node.tag != _TAGS[cls]:  # an explicit tag (!!int, !!binary, !custom): the full safe loader decides
        raise _NeedFullLoader
    if cls is ScalarNode:
        value = node.value
        # plain (unquoted) style is None in PyYAML's pure parser and '' in libyaml's
        return None if not node.style and value in _NULLS else value
    if cls is MappingNode:
        out = {}
        for k, v in node.value:
            key = _build(k)
            if key == "<<" or not isinstance(key, str):
                raise _NeedFullLoader
            out[key] = _build(v)
        return out
    return [_build(n) for n in node.value]


def _fast_yaml(text: str) -> Any:
    """YAML to plain data, every scalar kept as text (the declaration's fields are all text).

    Composing nodes in libyaml and building dicts directly is about twice as fast as PyYAML's constructor;
    merge keys, non-text keys and explicit tags fall back to the full (bounded) safe loader.
    """
    loader = _TextLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    return None if node is None else _build(node)


def load_yaml(text: str, source: str) -> Any:
    """An openness YAML document (MOT yml, manifest, card front matter) as plain data, bounded by
    :mod:`trustaudit.yamlsafe`; every failure is a one-line :class:`OpennessInputError`."""
    try:
        yamlsafe.check_limits(text, source)
        try:
            return _fast_yaml(text)
        except _NeedFullLoader:
            return yamlsafe.load(text, source)
    except yamlsafe.YamlInputError as exc:
        raise OpennessInputError(exc.one_line()) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise OpennessInputError(f"{source} is not valid YAML{where}: {problem}") from None



_MAX_FILE = yamlsafe.YamlLimits(max_bytes=32 * 1024 * 1024)  # a model card is a document; its front matter is bounded


def _read(path: Path) -> str:
    if not path.exists():
        raise OpennessInputError(f"{path} does not exist")
    if path.is_dir():
        raise OpennessInputError(f"{path} is a directory, not a file")
    try:
        return yamlsafe.read_text(path, "file", _MAX_FILE)
    except yamlsafe.YamlInputError as exc:
        raise OpennessInputError(exc.one_line()) from None


def _format_validation(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    got = first.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    msg = first["msg"]
    if first["type"] in ("string_type",) and isinstance(got, list):
        msg += " (write several licenses as one SPDX expression, e.g. 'MIT OR Apache-2.0')"
    return f"{source}: '{where}' {msg[0].lower() + msg[1:]} (got {shown})"


def declaration_from_mapping(data: Any, *, source: str = "<mapping>") -> Declaration:
    """Validate a parsed MOT structure (``{framework, release}``, or a bare release section)."""
    if data is None:
        raise OpennessInputError(f"{source} is empty; it needs a 'release' section with 'components'")
    if not isinstance(data, dict):
        raise OpennessInputError(
            f"{source} must be a YAML mapping with a 'release' section, not {type(data).__name__}"
        )
    if "release" not in data:
        if "components" in data or "license" in data:
            data = {"release": data}
        else:
            keys = ", ".join(map(str, list(data)[:5])) or "none"
            raise OpennessInputError(
                f"{source} has no 'release' section (keys found: {keys}); is it a MOT model.yml?"
            )
    release = data.get("release")
    notes: list[str] = []
    if isinstance(release, dict) and isinstance(release.get("components"), list):
        for i, comp in enumerate(release["components"]):
            if not isinstance(comp, dict):
                raise OpennessInputError(
                    f"{source}: 'release.components.{i}' must be a mapping with 'name' and 'license', "
                    f"not {type(comp).__name__}"
                )
            name = comp.get("name")
            if isinstance(name, str) and name not in BY_NAME:
                close = closest_component(name)
                hint = f"; did you mean '{close}'?" if close else ""
                raise OpennessInputError(
                    f"{source}: unknown component '{name}' in release.components{hint} "
                    "(the 17 MOF component names are listed in docs/openness.md)"
                )
            for key in comp:
                if key not in _COMPONENT_KEYS:
                    close_keys = difflib.get_close_matches(str(key), _COMPONENT_KEYS, n=1)
                    if close_keys:
                        notes.append(
                            f"component '{name}': unknown key '{key}' ignored; did you mean '{close_keys[0]}'?"
                        )
            if "license" not in comp and isinstance(comp.get("license_name"), str):
                comp = dict(comp, license=comp["license_name"])  # MOT's older schema
                release["components"][i] = comp
    try:
        decl = Declaration.model_validate(data)
    except ValidationError as err:
        raise OpennessInputError(_format_validation(err, source)) from None
    decl.source = source
    decl.notes = notes
    return decl


def load_mot_text(text: str, source: str = "<text>") -> Declaration:
    if not text.strip():
        raise OpennessInputError(f"{source} is empty; it needs a 'release' section with 'components'")
    return declaration_from_mapping(load_yaml(text, source), source=source)


def load_mot_file(path: str | Path) -> Declaration:
    """Read a Model Openness Tool ``model.yml``."""
    p = Path(path)
    return load_mot_text(_read(p), source=str(p))


def declaration_from_manifest(manifest: Any, *, source: str = MANIFEST_NAME) -> Declaration:
    """Build a declaration from a bundle manifest's ``openness:`` section (MOT's ``release`` structure).

    ``manifest`` is the whole manifest (a dict or the lead's ``Manifest`` model) or the section itself.
    The release name and version default to the manifest's ``name`` and ``version``.
    """
    if hasattr(manifest, "model_dump"):
        manifest = manifest.model_dump()
    if not isinstance(manifest, dict):
        raise OpennessInputError(f"{source}: the manifest must be a mapping, not {type(manifest).__name__}")
    section = manifest.get("openness", manifest) if "openness" in manifest else manifest
    if section is None:
        raise OpennessInputError(f"{source} has an empty 'openness' section; see docs/openness.md")
    if not isinstance(section, dict):
        raise OpennessInputError(
            f"{source}: 'openness' must be a mapping with 'license' and 'components', not {type(section).__name__}"
        )
    src = f"{source} (openness)"
    section = dict(section)
    framework = section.pop("framework", None)
    release = dict(section.pop("release", None) or section)
    for key in ("name", "version"):
        if key not in release and isinstance(manifest.get(key), (str, int, float)) and "openness" in manifest:
            release[key] = str(manifest[key])
    data: dict[str, Any] = {"release": release}
    if framework is not None:
        data["framework"] = framework
    return declaration_from_mapping(data, source=src)


def split_front_matter(text: str) -> str | None:
    """The YAML front matter of a Markdown file (between the first two '---' lines), or None."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i])
    return None


def load_hf_card(path: str | Path) -> Declaration:
    """A declaration from a Hugging Face model card's front matter (license, datasets, base_model).

    The card's license covers the weights and the card itself; listed datasets and the base model are noted,
    but their licenses are not in the card, so they are not counted.
    """
    p = Path(path)
    text = _read(p)
    if not text.strip():
        raise OpennessInputError(f"{p} is empty")
    front = split_front_matter(text)
    if front is None:
        raise OpennessInputError(f"{p} has no YAML front matter (a '---' block at the top with 'license:')")
    meta = load_yaml(front, f"{p} (front matter)")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise OpennessInputError(f"{p}: the front matter must be a YAML mapping, not {type(meta).__name__}")
    return declaration_from_card_meta(meta, source=str(p), default_name=p.parent.name or p.stem)


def declaration_from_card_meta(meta: dict[str, Any], *, source: str, default_name: str) -> Declaration:
    notes: list[str] = []
    license_ = meta.get("license")
    if isinstance(license_, list):
        license_ = " AND ".join(str(x) for x in license_) if license_ else None
    elif license_ is not None and not isinstance(license_, str):
        raise OpennessInputError(f"{source}: 'license' must be a string, not {type(license_).__name__}")
    if isinstance(license_, str) and license_.strip().lower() == "other":
        name = meta.get("license_name")
        if isinstance(name, str) and name.strip():
            notes.append(f"card license is 'other'; using license_name '{name}'")
            license_ = name
        else:
            link = meta.get("license_link")
            notes.append(
                "card license is 'other' with no license_name"
                + (f" (license_link: {link})" if link else "")
                + "; declare the license in a MOT file"
            )
    if license_ is None:
        notes.append("the card declares no license")
    datasets = meta.get("datasets")
    if isinstance(datasets, str):
        datasets = [datasets]
    if datasets:
        notes.append(
            f"the card names datasets ({', '.join(map(str, datasets))}) but not their licenses; Datasets is not "
            "counted (declare it in a MOT file)"
        )
    base = meta.get("base_model")
    if base:
        base_s = ", ".join(map(str, base)) if isinstance(base, list) else str(base)
        notes.append(f"derived from base model {base_s}: its license terms may also apply")
    name = meta.get("model_name") or meta.get("model-name") or default_name
    release: dict[str, Any] = {
        "name": str(name),
        "license": {"distribution": {"name": license_, "path": meta.get("license_link")}} if license_ else {},
        "components": [
            {"name": FINAL_PARAMETERS, "description": "Model weights published with the card"},
            {
                "name": MODEL_CARD,
                "description": "The Hugging Face model card (README.md)",
                "component_path": "README.md",
            },
        ],
    }
    decl = declaration_from_mapping({"release": release}, source=source)
    decl.notes = notes + decl.notes
    return decl


def load_path(path: str | Path) -> tuple[Declaration, Path | None]:
    """Read whatever ``path`` is: a bundle directory, a manifest, a MOT yml or a model card.

    Returns the declaration and the bundle root for evidence checks (None for a lone file).
    """
    p = Path(path)
    if not p.exists():
        raise OpennessInputError(f"{p} does not exist")
    if p.is_dir():
        for name in (MANIFEST_NAME, "trustaudit.yml"):
            if (p / name).is_file():
                return _from_manifest_file(p / name), p
        for name in ("model.yml", "model.yaml", "mot.yml"):
            if (p / name).is_file():
                return load_mot_file(p / name), p
        if (p / "README.md").is_file():
            return load_hf_card(p / "README.md"), p
        raise OpennessInputError(
            f"{p} holds no {MANIFEST_NAME}, model.yml or README.md to read an openness declaration from"
        )
    if p.suffix.lower() in (".md", ".markdown"):
        return load_hf_card(p), None
    if p.name in (MANIFEST_NAME, "trustaudit.yml"):
        return _from_manifest_file(p), p.parent
    text = _read(p)
    if not text.strip():
        raise OpennessInputError(f"{p} is empty; it needs a 'release' section with 'components'")
    data = load_yaml(text, str(p))
    if isinstance(data, dict) and "openness" in data and "release" not in data:
        return declaration_from_manifest(data, source=str(p)), p.parent
    return declaration_from_mapping(data, source=str(p)), None


def _from_manifest_file(path: Path) -> Declaration:
    text = _read(path)
    if not text.strip():
        raise OpennessInputError(f"{path} is empty")
    data = load_yaml(text, str(path))
    if not isinstance(data, dict):
        raise OpennessInputError(f"{path} must be a YAML mapping")
    if data.get("openness") is None:
        raise OpennessInputError(f"{path} has no 'openness' section; add one (see docs/openness.md)")
    return declaration_from_manifest(data, source=str(path))


def dump_mot(decl: Declaration, *, normalise: bool = True) -> str:
    """MOT ``model.yml`` text for a declaration.

    With ``normalise`` (the default) license spellings that the default mode normalises are written as their
    SPDX ids, so MOT grades the file as this scorer's default mode does where MOT can (expressions and
    restrictive licenses stay as they are).
    """
    data = decl.model_dump(mode="json", exclude_none=True)
    data.setdefault("framework", {}).setdefault("name", "Model Openness Framework")
    release = data.setdefault("release", {})
    if normalise:
        from trustaudit.openness.licenses import classify

        def norm(value: str) -> str:
            v = classify(value)
            return v.spdx if v.spdx else value

        for g in (release.get("license") or {}).values():
            if isinstance(g, dict) and isinstance(g.get("name"), str):
                g["name"] = norm(g["name"])
        for comp in release.get("components") or []:
            if isinstance(comp.get("license"), str) and comp["license"] != "unlicensed":
                comp["license"] = norm(comp["license"])
    if not release.get("license"):
        release["license"] = {}
    out: str = yaml.dump(
        {"framework": data["framework"], "release": release},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=110,
    )
    return out
