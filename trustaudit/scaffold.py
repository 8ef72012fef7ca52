"""``trustaudit init``: write a manifest for a model file and a data file, inferring what it can.

Everything is read and checked before anything is written: the CSV delimiter is sniffed (``csv.Sniffer`` on the
first 64 KiB), the label and protected attributes inferred, training data beside the evaluation data found, and the
skops types the model needs listed. Files outside the bundle directory are copied in; on any failure what was
created is removed again, so a failed ``init`` leaves no half-made bundle behind.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from trustaudit.bundle.loader import read_table, resolve_protected, sha256_file
from trustaudit.bundle.manifest import MANIFEST_NAME, parse_manifest
from trustaudit.errors import BundleError

FORMATS = {".skops": "skops", ".onnx": "onnx", ".ubj": "xgboost", ".joblib": "joblib", ".pkl": "pickle",
           ".pickle": "pickle"}
LABEL_NAMES = ("label", "target", "y", "class", "outcome", "income", "credit", "default")
PROTECTED_NAMES = {
    "sex": None, "gender": None, "race": None, "ethnicity": None, "age": ">= 25", "religion": None,
    "nationality": None, "native-country": None, "marital-status": None, "disability": None,
}
SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
_TABLE = r"\.(csv(\.(gz|bz2|xz|zst))?|parquet|pq|txt)$"
_TRAINING_FILE = re.compile(r"^(.*[_\-.])?(train|training)([_\-.].*)?" + _TABLE, re.IGNORECASE)


@dataclass
class ScaffoldResult:
    """What ``init`` wrote and what the auditor has to do next."""

    manifest: Path
    out: Path
    sep: str
    copied: list[tuple[str, str]] = field(default_factory=list)  # (source as given, path inside the bundle)
    training_data: str | None = None  # path inside the bundle
    untrusted_types: list[str] = field(default_factory=list)  # skops types neither skops nor trustaudit trusts
    unsafe_pickle: bool = False
    notes: list[str] = field(default_factory=list)

    def validate_command(self) -> str:
        flags = "".join(f" --trust-type {t}" for t in self.untrusted_types)
        if self.unsafe_pickle:
            flags += " --allow-unsafe-pickle"
        return f"trustaudit validate {self.out}{flags}"


def _format_of(model: Path) -> str:
    if model.is_dir():
        if (model / "MLmodel").is_file():
            return "mlflow"
        raise BundleError(f"{model} is a directory without an MLmodel file; give a model file")
    if model.suffix == ".json":
        return "xgboost"
    if model.suffix == ".txt":
        return "lightgbm"
    fmt = FORMATS.get(model.suffix.lower())
    if fmt is None:
        raise BundleError(
            f"cannot tell the format of {model.name}; supported: .skops, .onnx, .json/.ubj (xgboost), "
            ".txt (lightgbm), an MLflow directory, .joblib/.pkl (unsafe, opt-in)"
        )
    return fmt


def _open_text(path: Path) -> IO[str] | None:
    name = path.name.lower()
    openers: dict[str, Any] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    for suffix, opener in openers.items():
        if name.endswith(suffix):
            return opener(path, "rt", encoding="utf-8", errors="replace")
    if name.endswith(".zst"):
        return None
    return path.open("r", encoding="utf-8", errors="replace", newline="")


def sniff_sep(path: Path) -> str:
    """The field delimiter of a CSV file (``,`` ``;`` tab ``|``), sniffed from its first 64 KiB; ``,`` for
    Parquet, zstd files and anything the sniffer cannot decide."""
    if re.search(r"\.(parquet|pq)$", path.name, re.IGNORECASE):
        return ","
    try:
        fh = _open_text(path)
        if fh is None:
            return ","
        with fh:
            sample = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise BundleError(f"data file {path.name} could not be read: {exc.strerror or exc}") from None
    if "\n" in sample.rstrip("\r\n"):
        sample = sample[: sample.rstrip("\r\n").rfind("\n")]  # whole lines only
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
    header = sample.splitlines()[0] if sample else ""
    fields = next(csv.reader([header], delimiter=sep), [])
    return sep if len(fields) > 1 else ","


def _model_hints(model: Path | None, fmt: str | None, trusted: list[str]) -> tuple[list[str], list[str]]:
    """(classes, feature names) of a safely loadable model, to tell the label from the features."""
    if model is None or fmt not in ("skops", "onnx", "xgboost", "lightgbm"):
        return [], []
    from trustaudit.bundle import models as M

    loaders = {"skops": lambda: M.load_skops(model, trusted), "onnx": lambda: M.load_onnx(model),
               "xgboost": lambda: M.load_xgboost(model), "lightgbm": lambda: M.load_lightgbm(model)}
    try:
        adapter = loaders[fmt]()
    except Exception:
        return [], []
    # native boosters store class indices (0, 1), not the label's values: only their feature names help
    classes = [str(c) for c in adapter.classes] if fmt in ("skops", "onnx") else []
    return classes, list(adapter.feature_names or [])


def untrusted_skops_types(model: Path, trusted: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The types of a skops file that skops, trustaudit's vetted list and ``trusted`` do not trust: what
    ``--trust-type`` must name before the model loads. Read from the file's schema; nothing is built."""
    import skops.io as sio

    from trustaudit.bundle import models as M

    try:
        types = sio.get_untrusted_types(file=model)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BundleError(f"{model} is not a readable skops file ({first}); re-save it with skops.io.dump") from None
    return M.refused_skops_types(types, trusted)


def infer_task(model: Path | None, fmt: str | None, trusted: list[str] | None, df: Any, label: str | None,
               features: list[str]) -> tuple[str, str | None]:
    """(task, label column or None) for ``trustaudit init``: the model's kind when it can be read safely (a
    scikit-learn regressor or classifier in skops, an ONNX graph's outputs, a booster's objective), else the
    label column's values (numeric with many distinct values: regression; 3 to MAX_CLASSES values: multiclass).
    The label column is returned when the model's kind picks it (its classes, or a numeric target)."""
    from trustaudit.bundle import models as M
    from trustaudit.bundle.loader import MAX_CLASSES

    kind: str | None = None  # "regression" | "multiclass-classification" | "binary-classification"
    classes: list[str] = []
    if model is not None and trusted is not None:
        try:
            if fmt == "skops":
                try:
                    classes = [str(c) for c in M.load_skops(model, trusted).classes]
                except Exception:
                    regressor = M.load_skops(model, trusted, task="regression")
                    features = features or list(regressor.feature_names or [])
                    kind = "regression"
            elif fmt == "onnx":
                outs = [o.name.lower() for o in M.load_onnx(model).native.get_outputs()]
                kind = None if any("prob" in o or "label" in o for o in outs) else "regression"
            elif fmt == "xgboost":
                import json

                booster = M.load_xgboost(model).native
                objective = str(json.loads(booster.save_config())["learner"]["objective"]["name"])
                kind = "regression" if objective.startswith(("reg:", "count:", "survival:")) else \
                    "multiclass-classification" if objective.startswith("multi:") else "binary-classification"
            elif fmt == "lightgbm":
                objective = str(M.load_lightgbm(model).native.dump_model().get("objective", ""))
                kind = "multiclass-classification" if objective.startswith(("multiclass", "softmax", "multiclassova")) \
                    else "binary-classification" if objective.startswith(("binary", "cross_entropy")) else "regression"
        except Exception:
            kind, classes = None, []
    if classes:
        kind = "multiclass-classification" if len(classes) > 2 else "binary-classification"
    candidates = [str(c) for c in df.columns if str(c) not in features]
    if label is None and kind == "multiclass-classification" and classes:
        label = next((c for c in candidates if {str(v) for v in df[c].dropna().unique()} == set(classes)), None)
    if label is None and kind == "regression":
        numbers = [c for c in candidates if str(df[c].dtype).startswith(("int", "float")) and df[c].nunique() > 2]
        named = [c for c in numbers if c.lower() in LABEL_NAMES]
        label = (named or numbers[-1:])[0] if named or numbers else None
    if kind is None and label is not None and label in df.columns:
        col = df[label]
        n = col.nunique(dropna=True)
        is_number = str(col.dtype).startswith(("int", "float"))
        is_integral = is_number and bool((col.dropna() % 1 == 0).all())
        kind = "binary-classification" if n <= 2 else "regression" if is_number and (
            n > MAX_CLASSES or not is_integral) else "multiclass-classification"
    return kind or "binary-classification", label


def _infer_label(df: Any, classes: list[str] | None = None, features: list[str] | None = None) -> str:
    features = features or []
    candidates = [c for c in df.columns if str(c) not in features and df[c].nunique() == 2]
    if classes:
        for c in candidates:
            if {str(v) for v in df[c].dropna().unique()} == set(classes):
                return str(c)
    lowered = {str(c).lower(): str(c) for c in candidates}
    for n in LABEL_NAMES:
        if n in lowered and df[lowered[n]].nunique() == 2:
            return lowered[n]
    if len(candidates) == 1:
        return str(candidates[0])
    # a column named like a protected attribute (sex, race, ...) is not the label when another candidate is
    unprotected = [c for c in candidates if str(c).strip().lower().replace(" ", "_") not in PROTECTED_NAMES]
    if len(unprotected) == 1:
        return str(unprotected[0])
    last = str(df.columns[-1])
    if last in [str(c) for c in candidates]:
        return last
    raise BundleError("cannot infer the label column; pass --label COLUMN")


def _infer_favorable(series: Any) -> Any:
    values = list(series.dropna().unique())
    for good in (1, "1", True, "yes", "Yes", "good", ">50K", "approved", "positive"):
        for v in values:
            if str(v) == str(good):
                return v.item() if hasattr(v, "item") else v
    # the rarer class is usually the favourable outcome being granted
    v = series.value_counts().idxmin()
    return v.item() if hasattr(v, "item") else v


def _parse_protected_option(text: str) -> tuple[str, Any]:
    """``COLUMN=DEFINITION`` of ``--protected``: ``age=>= 25 and < 60``, ``age=25..60`` (a range, upper bound
    excluded), ``sex=Male`` or ``race=White,Asian`` (privileged values)."""
    if "=" not in text:
        raise BundleError(f"--protected {text!r}: write COLUMN=DEFINITION, e.g. 'age=>= 25 and < 60' or 'sex=Male'")
    name, _, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not name or not spec:
        raise BundleError(f"--protected {text!r}: give a column and a definition")
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)?\s*\.\.\s*(-?\d+(?:\.\d+)?)?", spec)
    if m and (m.group(1) or m.group(2)):
        rng = {k: float(v) if "." in v else int(v) for k, v in (("min", m.group(1)), ("max", m.group(2))) if v}
        return name, rng
    if spec[0] in "<>=":
        return name, spec
    return name, [v.strip() for v in spec.split(",") if v.strip()]


def _guess_protected(df: Any, lab: str) -> dict[str, Any]:
    protected: dict[str, Any] = {}
    for col in df.columns:
        key = str(col).lower()
        if key in PROTECTED_NAMES and col != lab:
            thr = PROTECTED_NAMES[key]
            if thr is not None and str(df[col].dtype).startswith(("int", "float")):
                protected[str(col)] = {"privileged": thr}
            else:
                top = df[col].value_counts().idxmax()
                protected[str(col)] = {"privileged": [top.item() if hasattr(top, "item") else top]}
    return protected


def find_training_data(data: Path) -> Path | None:
    """A training file beside the evaluation data (``train.csv``, ``adult_train.csv.gz``, ``training.parquet``,
    ...); when several match, the one named most like the data (longest common prefix: ``adult_train.csv`` for
    ``adult_test.csv``), then the shortest name. None when there is none."""
    try:
        siblings = [p for p in data.parent.iterdir() if p.is_file() and _TRAINING_FILE.match(p.name)]
    except OSError:
        return None
    siblings = [p for p in siblings if p.resolve() != data.resolve()]
    if not siblings:
        return None
    name = data.name.lower()

    def shared(p: Path) -> int:  # characters the two names share from the start
        other = p.name.lower()
        n = 0
        while n < min(len(other), len(name)) and other[n] == name[n]:
            n += 1
        return n

    return sorted(siblings, key=lambda p: (-shared(p), len(p.name), p.name))[0]


def _inside(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


@dataclass
class _Placement:
    source: Path
    given: str
    rel: str  # path inside the bundle
    copy: bool


def _place(src: Path, out: Path, subdir: str, force: bool) -> _Placement:
    rel = _inside(src, out)
    if rel is not None:
        return _Placement(src, str(src), rel, False)
    rel = f"{subdir}/{src.name}" if subdir else src.name
    dest = out / rel
    if dest.exists() and not force:
        raise BundleError(f"{dest} already exists; pass --force to overwrite it, or give the file inside {out}")
    return _Placement(src, str(src), rel, True)


def _first_missing_ancestor(path: Path) -> Path | None:
    """The outermost directory of ``path`` that does not exist yet (what ``mkdir(parents=True)`` creates)."""
    missing = None
    p = path.absolute()
    while not p.exists():
        missing = p
        if p.parent == p:
            break
        p = p.parent
    return missing


def _digest(path: Path) -> str:
    return "sha256:" + sha256_file(path)[0]


def scaffold(
    model: Path | None,
    data: Path | None,
    out: Path,
    *,
    label: str | None = None,
    favorable: str | None = None,
    name: str | None = None,
    force: bool = False,
    sep: str | None = None,
    training_data: Path | None = None,
    find_training: bool = True,
    protected: list[str] | None = None,
    trusted_types: list[str] | tuple[str, ...] = (),
) -> ScaffoldResult:
    """Write ``out/trustaudit.yaml`` (copying files from outside ``out`` into it) and return what was done."""
    if data is None:
        raise BundleError("give a data file: trustaudit init MODEL DATA --out BUNDLE_DIR")
    target = out / MANIFEST_NAME
    if target.exists() and not force:
        raise BundleError(f"{target} already exists; pass --force to overwrite it")
    if out.exists() and not out.is_dir():
        raise BundleError(f"--out {out} is a file; give a directory for the bundle")
    if not data.is_file():
        raise BundleError(f"data file {data} does not exist")
    if model is not None and not model.exists():
        raise BundleError(f"model file {model} does not exist")
    if training_data is not None and not training_data.is_file():
        raise BundleError(f"training data file {training_data} does not exist")
    trusted = list(trusted_types)

    # 1. read and infer everything (nothing written yet)
    data_sep = sep if sep is not None else sniff_sep(data)
    df = read_table(data, "data", data_sep)
    notes: list[str] = []
    if df.shape[1] == 1 and sep is None:
        notes.append(f"{data.name} has a single column; if its delimiter is not ',', pass --sep")
    fmt = _format_of(model) if model is not None else None
    untrusted = untrusted_skops_types(model, trusted) if model is not None and fmt == "skops" else []
    classes, features = _model_hints(model, fmt, trusted) if not untrusted else ([], [])
    task, task_label = infer_task(model, fmt, None if untrusted else trusted, df, label, features)
    lab = label or task_label or _infer_label(df, classes, features)
    if lab not in df.columns:
        cols = ", ".join(str(c) for c in list(df.columns)[:12])
        raise BundleError(f"label column '{lab}' is not in {data.name} (columns: {cols}); fix --label")
    fav: Any = favorable if favorable is not None or task != "binary-classification" else _infer_favorable(df[lab])
    if favorable is not None and str(favorable) not in {str(v) for v in df[lab].dropna().unique()}:
        raise BundleError(f"--favorable {favorable!r} never occurs in label column '{lab}'")
    prot = _guess_protected(df, lab)
    for item in protected or []:
        col, definition = _parse_protected_option(item)
        if col not in df.columns:
            raise BundleError(f"--protected column '{col}' is not in {data.name}")
        prot[col] = {"privileged": definition}
    pred_col = next((c for c in df.columns if str(c).lower() in ("prediction", "pred", "y_pred")), None)
    if model is None and pred_col is None:
        raise BundleError("without a model the data needs a prediction column; give MODEL or add 'prediction'")

    train_path = training_data
    if train_path is None and find_training:
        train_path = find_training_data(data)
        if train_path is not None:
            notes.append(f"training data found beside the data: {train_path.name} (skip with --no-training-data)")
    train_sep: str | None = None
    train_rows = 0
    if train_path is not None:
        train_sep = sep if sep is not None else sniff_sep(train_path)
        train_df = read_table(train_path, "training data", train_sep)
        if lab not in train_df.columns:
            if training_data is not None:
                raise BundleError(f"training data {train_path.name} has no label column '{lab}'")
            notes.append(f"{train_path.name} has no column '{lab}'; not used as training data")
            train_path = None
        train_rows = len(train_df)
        del train_df

    # 2. where each file goes (refused before anything is written if a copy would overwrite a file)
    data_p = _place(data, out, "data", force)
    model_p = _place(model, out, "", force) if model is not None else None
    train_p = _place(train_path, out, "data", force) if train_path is not None else None
    rels = [p.rel for p in (data_p, model_p, train_p) if p is not None]
    if len(set(rels)) != len(rels):
        raise BundleError(f"two of the files would be copied to the same place ({', '.join(rels)}); rename one")

    manifest: dict[str, Any] = {
        "trustaudit": 1,
        "name": name or out.resolve().name,
        "version": "0.1.0",
        "task": task,
    }
    if model_p is not None:
        manifest["model"] = {"path": model_p.rel, "format": fmt}
        if untrusted:
            manifest["model"]["trusted_types"] = untrusted
    manifest["data"] = {"path": data_p.rel, "label": lab, "favorable_label": fav,
                        "prediction": None if model is not None else str(pred_col), "score": None}
    if fav is None:
        del manifest["data"]["favorable_label"]
    if data_sep != ",":
        manifest["data"]["sep"] = data_sep
    if train_p is not None:
        manifest["training_data"] = {"path": train_p.rel}
        if (train_sep or ",") != data_sep:
            manifest["training_data"]["sep"] = train_sep
    manifest["protected"] = prot
    draft = parse_manifest(yaml.safe_dump(manifest, sort_keys=False), str(target))
    resolve_protected(df, draft.protected)  # a definition that selects no row is refused before anything is written

    # 3. write: copies, lineage digests of the files as they are in the bundle, the manifest
    created_root = _first_missing_ancestor(out)
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        copied: list[tuple[str, str]] = []
        for p in (data_p, model_p, train_p):
            if p is None or not p.copy:
                continue
            dest = out / p.rel
            if not dest.parent.exists():
                written.append(dest.parent)
                dest.parent.mkdir(parents=True)
            if not dest.parent.resolve().is_relative_to(out.resolve()):
                raise BundleError(f"{dest.parent} leads outside {out} (a symbolic link): remove it and run init again")
            if dest.is_symlink():  # never write through a link (it may point outside the bundle)
                dest.unlink()
            elif dest.is_dir():
                shutil.rmtree(dest)
            written.append(dest)
            if p.source.is_dir():
                shutil.copytree(p.source, dest, symlinks=False)
            else:
                shutil.copyfile(p.source, dest)
            copied.append((p.given, p.rel))
        lineage: dict[str, Any] = {"files": {}}
        if model_p is not None:
            lineage["files"][model_p.rel] = _digest(out / model_p.rel)
        lineage["files"][data_p.rel] = _digest(out / data_p.rel)
        lineage["evaluation_data"] = {"name": data.name, "path": data_p.rel,
                                      "digest": lineage["files"][data_p.rel], "rows": len(df),
                                      "description": f"evaluation data from {data.name}, written by trustaudit init"}
        if train_p is not None:
            assert train_path is not None
            lineage["training_data"] = [{
                "name": train_path.name, "path": train_p.rel, "digest": _digest(out / train_p.rel),
                "rows": train_rows, "description": f"training data from {train_path.name}, found by trustaudit init",
            }]
        manifest["lineage"] = lineage
        text = (
            "# trustaudit bundle manifest (format 1): generated by 'trustaudit init'; review every value.\n"
            "# Keys are documented in docs/manifest.md. Protected attributes were guessed from column names\n"
            "# (or given with --protected); lineage holds the digests of the files as init found them.\n"
            + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
        )
        parsed = parse_manifest(text, str(target))  # what we write must validate
        from trustaudit.lineage.spec import parse_lineage

        parse_lineage(parsed)
        target.write_text(text, encoding="utf-8")
    except BaseException:
        if created_root is not None:
            shutil.rmtree(created_root, ignore_errors=True)
        else:
            for path in reversed(written):  # copies and folders this call created, newest first
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        raise
    return ScaffoldResult(target, out, data_sep, copied, train_p.rel if train_p else None, untrusted,
                          fmt in ("joblib", "pickle"), notes)
