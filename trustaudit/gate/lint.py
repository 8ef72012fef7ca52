"""Fast validation of trustaudit files for pre-commit hooks: no model, no data, no heavy check library loaded.

- a bundle manifest (``trustaudit.yaml``): its schema, that the files it names exist inside the bundle, that its
  rubric loads, and its ``openness`` section when the openness module is installed;
- a rubric (a YAML file with a top-level ``rubric:`` key): it loads (``extends:`` included), every check it
  names is registered, and every condition names a metric its check declares and selects it by fields that
  metric has (the check classes are imported for their declarations; shap, ART and aif360 stay unloaded);
- an openness declaration (a Model Openness Tool ``model.yml``, a YAML file with a ``release:`` key).

Other files are ignored, so the hooks can be given broad file patterns.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from trustaudit import yamlsafe
from trustaudit.errors import TrustAuditError

Kind = Literal["manifest", "rubric", "openness"]
MANIFEST_NAMES = ("trustaudit.yaml", "trustaudit.yml")


@dataclass
class LintResult:
    path: Path
    kind: Kind | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _has_openness() -> bool:
    return importlib.util.find_spec("trustaudit.openness") is not None


def detect(path: Path, text: str) -> Kind | None:
    """What kind of trustaudit file this is, from its name and top-level keys (None: not ours)."""
    if path.name in MANIFEST_NAMES:
        return "manifest"
    if path.suffix not in (".yaml", ".yml"):
        return None
    try:
        # bounded: a 'billion laughs' or a too deep file is an error (raised), text that is not YAML is not ours
        node = yamlsafe.compose(text, str(path))
    except yamlsafe.YamlSyntaxError:
        return None
    if not isinstance(node, yaml.MappingNode):
        return None
    keys = {str(k.value) for k, _ in node.value}
    if "rubric" in keys and keys & {"name", "extends", "checks"}:
        return "rubric"
    if "release" in keys:
        return "openness"
    return None


def _lint_manifest(path: Path, text: str, res: LintResult) -> None:
    from trustaudit.bundle.loader import resolve_inside
    from trustaudit.bundle.manifest import parse_manifest

    manifest = parse_manifest(text, str(path))
    root = path.parent
    refs = [("data.path", manifest.data.path)]
    if manifest.model is not None:
        refs.insert(0, ("model.path", manifest.model.path))
    if manifest.training_data is not None:
        refs.append(("training_data.path", manifest.training_data.path))
    for what, rel in refs:
        try:
            target = resolve_inside(root, rel, what)
        except TrustAuditError as exc:
            res.errors.append(exc.one_line())
            continue
        if not target.exists():
            res.errors.append(f"{path}: {what} '{rel}' does not exist in the bundle")
    if manifest.rubric:
        from trustaudit.rubrics import load_rubric

        try:
            if manifest.rubric.endswith((".yaml", ".yml")):
                load_rubric(resolve_inside(root, manifest.rubric, "rubric"))
            else:
                load_rubric(manifest.rubric)
        except TrustAuditError as exc:
            res.errors.append(f"{path}: rubric: {exc.one_line()}")
    if manifest.openness is not None and _has_openness():
        from trustaudit.openness.io import declaration_from_manifest

        decl = declaration_from_manifest(manifest, source=str(path))
        res.warnings.extend(f"{path}: openness: {n}" for n in getattr(decl, "notes", []) or [])


def _lint_rubric(path: Path, res: LintResult) -> None:
    import difflib

    from trustaudit.checks import registry
    from trustaudit.rubrics import check_conditions, load_rubric

    rub = load_rubric(path)
    known = registry.available()
    for cid in rub.checks:
        if cid not in known:
            close = difflib.get_close_matches(cid, known, n=1)
            hint = (
                f" (did you mean '{close[0]}'?)" if close else " (is the plug-in that provides it installed?)"
            )
            res.warnings.append(f"{path}: check '{cid}' is not registered{hint}")
            continue
        try:
            cls = registry.load(cid)
        except registry.PluginLoadError as exc:
            res.warnings.append(f"{path}: {exc.one_line()}")
            continue
        try:
            check_conditions(rub, cid, cls)  # metric names and selection fields against the check's declaration
        except TrustAuditError as exc:
            res.errors.append(exc.one_line())


def _lint_openness(path: Path, res: LintResult) -> None:
    if not _has_openness():
        res.warnings.append(f"{path}: openness validation is not available in this build")
        return
    from trustaudit.openness.io import load_mot_file

    decl = load_mot_file(path)
    res.warnings.extend(f"{path}: {n}" for n in getattr(decl, "notes", []) or [])


def lint_file(path: str | Path, kind: Kind | None = None) -> LintResult:
    """Validate one file; ``kind`` forces how it is read (default: detected)."""
    p = Path(path)
    try:
        text = yamlsafe.read_text(p, "file")
    except yamlsafe.YamlInputError as exc:
        return LintResult(p, kind, errors=[exc.one_line()])
    res = LintResult(p, kind)
    try:
        res.kind = kind or detect(p, text)
        if res.kind == "manifest":
            _lint_manifest(p, text, res)
        elif res.kind == "rubric":
            _lint_rubric(p, res)
        elif res.kind == "openness":
            _lint_openness(p, res)
    except TrustAuditError as exc:
        res.errors.append(exc.one_line())
    return res


def lint_paths(paths: list[Path], kind: Kind | None = None) -> list[LintResult]:
    """Lint files; a directory stands for the manifest inside it."""
    out = []
    for p in paths:
        if p.is_dir():
            found = next((p / n for n in MANIFEST_NAMES if (p / n).is_file()), None)
            if found is None:
                out.append(LintResult(p, kind, errors=[f"{p}: no trustaudit.yaml in this directory"]))
                continue
            p = found
        out.append(lint_file(p, kind))
    return out
