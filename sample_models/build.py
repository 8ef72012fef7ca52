#!/usr/bin/env python
"""Rebuild every sample model bundle under sample_models/ from the raw data in data/.

Usage (from the repository root or anywhere)::

    OMP_NUM_THREADS=2 python sample_models/build.py

Bundles written (each self-contained: manifest, model, data, README, LICENSE):

* adult-income-hgb          sklearn Pipeline -> HistGradientBoostingClassifier (skops)
* adult-income-logreg       sklearn Pipeline -> LogisticRegression (skops + ONNX copy)
* adult-income-logreg-onnx  the same logistic regression, manifest points at the ONNX file
* adult-income-predictions  predictions-only bundle (scores of the HGB model, no model file)
* german-credit             sklearn Pipeline -> RandomForestClassifier (skops)
* adult-hours-regressor     sklearn Pipeline -> HistGradientBoostingRegressor on hours-per-week (task: regression)
* adult-hours-band          sklearn Pipeline -> LogisticRegression, 3 working-time classes (multiclass)

``--tasks-only`` rebuilds only the last two.

Everything is seeded and the written files are canonicalised (gzip mtime=0, zip
entries with a fixed timestamp, skops object ids renumbered), so running the script
twice yields byte-identical bundles.  Only numpy/pandas/scikit-learn/skops are needed,
plus skl2onnx/onnx/onnxruntime for the ONNX bundle.
"""
from __future__ import annotations

import os

# Keep the build friendly to small, shared machines; must be set before numpy/sklearn import.
os.environ.setdefault("OMP_NUM_THREADS", "2")

import gzip
import hashlib
import io
import json
import re
import shutil
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
OUT = ROOT / "sample_models"

SEED = 0
ADULT_LABEL = "income"
ADULT_POS = ">50K"
ADULT_NEG = "<=50K"

# Column names exactly as in adult.names (hyphenated), plus the label.
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", ADULT_LABEL,
]
ADULT_NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
ADULT_CATEGORICAL = [
    "workclass", "education", "marital-status", "occupation", "relationship",
    "race", "sex", "native-country",
]
ADULT_FEATURES = [c for c in ADULT_COLUMNS if c not in ("fnlwgt", ADULT_LABEL)]

DATA_LICENSE = "CC BY 4.0"


# --------------------------------------------------------------------------------------
# deterministic file writing helpers
# --------------------------------------------------------------------------------------
def gzip_bytes(raw: bytes, filename: str = "") -> bytes:
    """gzip with mtime=0 and a fixed header so the output only depends on the input."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=filename, mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    return buf.getvalue()


def write_csv_gz(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = df.to_csv(index=False, lineterminator="\n")
    path.write_bytes(gzip_bytes(text.encode("utf-8"), filename=path.name[: -len(".gz")]))


def canonical_skops_dump(obj, path: Path) -> None:
    """skops.io.dump, then make the archive reproducible.

    skops stores ``id(obj)`` of every object as ``__id__`` (and names numpy payloads
    ``<id>.npy``), and zip entries carry the current time.  Both are irrelevant for
    loading, so ids are renumbered in first-seen order and entries get a fixed date.
    The result is verified to load back to an object producing identical output.
    """
    buf = io.BytesIO()
    sio.dump(obj, buf, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    schema = json.loads(src.read("schema.json"))

    mapping: dict[int, int] = {}

    def walk(node):
        if isinstance(node, dict):
            if "__id__" in node and isinstance(node["__id__"], int):
                node["__id__"] = mapping.setdefault(node["__id__"], len(mapping) + 1)
            for k in list(node):
                if k == "file" and isinstance(node[k], str) and node[k].endswith(".npy"):
                    old = int(node[k][: -len(".npy")])
                    node[k] = f"{mapping.setdefault(old, len(mapping) + 1)}.npy"
                else:
                    walk(node[k])
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    entries = {"schema.json": json.dumps(schema, indent=2).encode("utf-8")}
    for name in src.namelist():
        if name == "schema.json":
            continue
        if name.endswith(".npy") and name[: -len(".npy")].isdigit():
            new = f"{mapping[int(name[: -len('.npy')])]}.npy"
        else:  # pragma: no cover - not produced by current skops
            new = name
        entries[new] = src.read(name)

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in ["schema.json"] + sorted(n for n in entries if n != "schema.json"):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[name], compresslevel=9)
    path.write_bytes(out.getvalue())


def load_skops(path: Path):
    untrusted = sio.get_untrusted_types(file=path)
    return sio.load(path, trusted=untrusted), untrusted


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------
def read_adult(name: str) -> pd.DataFrame:
    df = pd.read_csv(
        DATA / f"{name}.gz",
        header=None,
        names=ADULT_COLUMNS,
        skipinitialspace=True,
        na_values=["?"],
        keep_default_na=False,
        skiprows=1 if name == "adult.test" else 0,  # adult.test starts with '|1x3 Cross validator'
        dtype={c: "object" for c in ADULT_CATEGORICAL + [ADULT_LABEL]},
    )
    for c in ADULT_CATEGORICAL + [ADULT_LABEL]:
        df[c] = df[c].str.strip()
    df[ADULT_LABEL] = df[ADULT_LABEL].str.rstrip(".")  # adult.test labels end with '.'
    df = df.drop(columns=["fnlwgt"])
    for c in ADULT_NUMERIC:
        df[c] = df[c].astype("int64")
    assert set(df[ADULT_LABEL].unique()) == {ADULT_POS, ADULT_NEG}, df[ADULT_LABEL].unique()
    assert not (df[ADULT_CATEGORICAL] == "?").any().any()
    return df[ADULT_FEATURES + [ADULT_LABEL]]


GERMAN_SPEC = [
    # (column name, {code: readable value}) ; None -> numeric attribute
    ("checking_status", {"A11": "< 0 DM", "A12": "0 <= ... < 200 DM",
                         "A13": ">= 200 DM / salary assignment", "A14": "no checking account"}),
    ("duration", None),  # months
    ("credit_history", {"A30": "no credits taken / all paid back duly",
                        "A31": "all credits at this bank paid back duly",
                        "A32": "existing credits paid back duly till now",
                        "A33": "delay in paying off in the past",
                        "A34": "critical account / other credits existing"}),
    ("purpose", {"A40": "car (new)", "A41": "car (used)", "A42": "furniture/equipment",
                 "A43": "radio/television", "A44": "domestic appliances", "A45": "repairs",
                 "A46": "education", "A47": "vacation", "A48": "retraining",
                 "A49": "business", "A410": "others"}),
    ("credit_amount", None),  # DM
    ("savings", {"A61": "< 100 DM", "A62": "100 <= ... < 500 DM", "A63": "500 <= ... < 1000 DM",
                 "A64": ">= 1000 DM", "A65": "unknown / no savings account"}),
    ("employment_since", {"A71": "unemployed", "A72": "< 1 year", "A73": "1 <= ... < 4 years",
                          "A74": "4 <= ... < 7 years", "A75": ">= 7 years"}),
    ("installment_rate", None),  # % of disposable income
    ("personal_status", {"A91": "male: divorced/separated",
                         "A92": "female: divorced/separated/married",
                         "A93": "male: single", "A94": "male: married/widowed",
                         "A95": "female: single"}),
    ("other_debtors", {"A101": "none", "A102": "co-applicant", "A103": "guarantor"}),
    ("residence_since", None),
    ("property", {"A121": "real estate",
                  "A122": "building society savings agreement / life insurance",
                  "A123": "car or other", "A124": "unknown / no property"}),
    ("age", None),  # years
    ("other_installment_plans", {"A141": "bank", "A142": "stores", "A143": "none"}),
    ("housing", {"A151": "rent", "A152": "own", "A153": "for free"}),
    ("existing_credits", None),  # number of existing credits at this bank
    ("job", {"A171": "unemployed / unskilled - non-resident", "A172": "unskilled - resident",
             "A173": "skilled employee / official",
             "A174": "management / self-employed / highly qualified"}),
    ("people_liable", None),  # number of people liable to provide maintenance for
    ("telephone", {"A191": "none", "A192": "yes"}),
    ("foreign_worker", {"A201": "yes", "A202": "no"}),
]
GERMAN_SEX = {"A91": "male", "A92": "female", "A93": "male", "A94": "male", "A95": "female"}
GERMAN_LABEL = "credit"


def read_german() -> pd.DataFrame:
    names = [n for n, _ in GERMAN_SPEC] + [GERMAN_LABEL]
    raw = pd.read_csv(DATA / "german.data.gz", sep=" ", header=None, names=names, dtype="object")
    assert len(raw) == 1000
    df = pd.DataFrame(index=raw.index)
    for name, codes in GERMAN_SPEC:
        if codes is None:
            df[name] = raw[name].astype("int64")
        else:
            assert set(raw[name]) <= set(codes), (name, set(raw[name]) - set(codes))
            df[name] = raw[name].map(codes).astype("object")
        if name == "personal_status":
            df["sex"] = raw[name].map(GERMAN_SEX).astype("object")
    df[GERMAN_LABEL] = raw[GERMAN_LABEL].map({"1": "good", "2": "bad"}).astype("object")
    assert df.notna().all().all()
    return df


# --------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------
def categorical_pipe() -> Pipeline:
    return Pipeline([
        ("impute", SimpleImputer(strategy="most_frequent")),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ])


def adult_hgb() -> Pipeline:
    pre = ColumnTransformer([
        ("cat", categorical_pipe(), ADULT_CATEGORICAL),
        ("num", "passthrough", ADULT_NUMERIC),
    ])
    return Pipeline([("preprocess", pre), ("classifier", HistGradientBoostingClassifier(random_state=SEED))])


def adult_logreg() -> Pipeline:
    pre = ColumnTransformer([
        ("cat", categorical_pipe(), ADULT_CATEGORICAL),
        ("num", StandardScaler(), ADULT_NUMERIC),
    ])
    return Pipeline([
        ("preprocess", pre),
        ("classifier", LogisticRegression(max_iter=1000, random_state=SEED)),
    ])


def german_rf(categorical: list[str], numeric: list[str]) -> Pipeline:
    pre = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ("num", "passthrough", numeric),
    ])
    return Pipeline([
        ("preprocess", pre),
        ("classifier", RandomForestClassifier(n_estimators=200, random_state=SEED, n_jobs=1)),
    ])


def evaluate(model, X: pd.DataFrame, y: pd.Series, positive: str) -> dict:
    classes = list(model.classes_)
    proba = model.predict_proba(X)[:, classes.index(positive)]
    pred = model.predict(X)
    return {
        "n_eval": int(len(y)),
        "accuracy": float(accuracy_score(y, pred)),
        "auc": float(roc_auc_score((y == positive).astype(int), proba)),
    }


# --------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------
ONNX_MISSING_STRING = ""  # categorical NaN must be fed to the ONNX model as the empty string


def onnx_feed(X: pd.DataFrame, categorical: list[str], numeric: list[str]) -> dict:
    """The input dict for the ONNX model: one [N, 1] tensor per DataFrame column."""
    feed = {}
    for c in categorical:
        col = X[c].astype("object").where(X[c].notna(), ONNX_MISSING_STRING)
        feed[c] = col.to_numpy(dtype=object).astype(str).reshape(-1, 1)
    for c in numeric:
        feed[c] = X[c].to_numpy(dtype=np.float32).reshape(-1, 1)
    return feed


def to_onnx(model: Pipeline, categorical: list[str], numeric: list[str], features: list[str]) -> bytes:
    import copy

    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    # skl2onnx only converts string imputers whose missing_values marker is a string,
    # so the ONNX graph treats "" as missing (fed in place of NaN, see onnx_feed).
    # statistics_ (the learned most-frequent values) are untouched.
    m = copy.deepcopy(model)
    m.named_steps["preprocess"].named_transformers_["cat"].named_steps["impute"].missing_values = ONNX_MISSING_STRING
    initial_types = [
        (c, StringTensorType([None, 1]) if c in categorical else FloatTensorType([None, 1]))
        for c in features
    ]
    onx = convert_sklearn(
        m,
        name="adult_income_logreg",
        initial_types=initial_types,
        options={id(m.named_steps["classifier"]): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    # skl2onnx sanitises input names ('education-num' -> 'education_num'); rename the
    # graph inputs back so each input is named exactly like its DataFrame column.
    for inp in onx.graph.input:
        target = next((c for c in features if c.replace("-", "_") == inp.name), inp.name)
        if target != inp.name:
            assert all(target != o for n in onx.graph.node for o in n.output)
            for node in onx.graph.node:
                for i, nm in enumerate(node.input):
                    if nm == inp.name:
                        node.input[i] = target
            inp.name = target
    assert [i.name for i in onx.graph.input] == list(features), [i.name for i in onx.graph.input]
    import onnx

    # opset_import order depends on Python's string hashing; sort it for reproducible bytes.
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    onnx.checker.check_model(onx, full_check=True)
    onx.doc_string = "LogisticRegression pipeline on UCI Adult (trustaudit sample); categorical NaN -> ''"
    return onx.SerializeToString()


# --------------------------------------------------------------------------------------
# bundle writers
# --------------------------------------------------------------------------------------
def yaml_str(v) -> str:
    """A YAML scalar: plain when unambiguous, else double-quoted (JSON strings are valid YAML)."""
    if v is None:
        return "null"
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", v) and v.lower() not in {
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}
    return v if plain else json.dumps(v)


def manifest(name: str, description: str, model: tuple[str, str] | None, label: str,
             favorable: str, prediction: str | None, score: str | None,
             protected: list[str]) -> str:
    lines = [
        "trustaudit: 1",
        f"name: {name}",
        "version: 1.0.0",
        "task: binary-classification",
        f"description: {description}",
    ]
    if model is not None:
        lines += ["model:", f"  path: {model[0]}", f"  format: {model[1]}"]
    lines += [
        "data:",
        "  path: data/eval.csv.gz",
        f"  label: {label}",
        f"  favorable_label: {yaml_str(favorable)}",
        f"  prediction: {yaml_str(prediction)}",
        f"  score: {yaml_str(score)}",
        "training_data:",
        "  path: data/train.csv.gz",
        "protected:",
        *protected,
    ]
    return "\n".join(lines) + "\n"


ADULT_PROTECTED = [
    "  sex: {privileged: [Male]}",
    "  race: {privileged: [White]}",
    '  age: {privileged: ">= 25"}',
]
GERMAN_PROTECTED = [
    "  sex: {privileged: [male]}",
    '  age: {privileged: ">= 25"}',
]

ADULT_ATTRIBUTION = """\
Data: "Adult" (Census Income) data set, UCI Machine Learning Repository,
donated 1996 by Ronny Kohavi and Barry Becker (extracted from the 1994 US Census
database). https://doi.org/10.24432/C5XW20 -- licensed under CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/).
Cite: R. Kohavi, "Scaling Up the Accuracy of Naive-Bayes Classifiers: a
Decision-Tree Hybrid", Proceedings of KDD-96, 1996.
Changes: `fnlwgt` dropped, surrounding spaces stripped, the trailing '.' of the
adult.test labels removed, '?' replaced by an empty (missing) value, rows kept
as-is (adult.data -> train.csv.gz, adult.test -> eval.csv.gz), re-encoded as gzip CSV
with a header row."""

GERMAN_ATTRIBUTION = """\
Data: "Statlog (German Credit Data)" data set, UCI Machine Learning Repository,
Prof. Dr. Hans Hofmann, Universitaet Hamburg, 1994.
https://doi.org/10.24432/C5NC77 -- licensed under CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/).
Changes: attribute codes (A11, A12, ...) decoded into readable values following
german.doc, columns named, a derived `sex` column added (from personal_status:
A91/A93/A94 male, A92/A95 female), label 1/2 mapped to good/bad, rows split 70/30
(stratified, seed 0) into train.csv.gz / eval.csv.gz."""


def license_text(attribution: str) -> str:
    return (
        "The files under data/ in this bundle are derived from a public data set licensed\n"
        "under the Creative Commons Attribution 4.0 International license (CC BY 4.0),\n"
        "https://creativecommons.org/licenses/by/4.0/legalcode\n\n"
        + attribution
        + "\n\nThe model files in this bundle were trained on that data by trustaudit's\n"
        "sample_models/build.py and are provided with the same attribution.\n"
    )


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def fmt_metrics(m: dict) -> str:
    return (f"| accuracy | {m['accuracy']:.4f} |\n| ROC AUC | {m['auc']:.4f} |\n"
            f"| eval rows | {m['n_eval']:,} |\n")


def model_card(title: str, what: str, data: str, build: str, metrics: dict | None,
               attribution: str, extra: str = "") -> str:
    parts = [f"# {title}\n", what.strip() + "\n", "## Data\n", data.strip() + "\n",
             "## How it was built\n", build.strip() + "\n"]
    if metrics is not None:
        parts += ["## Metrics (on data/eval.csv.gz, measured by build.py)\n",
                  "| metric | value |\n|---|---|\n" + fmt_metrics(metrics)]
    if extra:
        parts.append(extra.strip() + "\n")
    parts += ["## License and attribution\n", attribution + "\n",
              "\nSee LICENSE. Intended for demonstrating and testing trustaudit audits only;\n"
              "not for real decisions.\n"]
    return "\n".join(parts)


ADULT_DATA_MD = f"""\
UCI Adult (census income). `data/train.csv.gz` = adult.data (32,561 rows),
`data/eval.csv.gz` = adult.test (16,281 rows, all kept). Columns (adult.names
spelling): {", ".join(f"`{c}`" for c in ADULT_FEATURES)}, label `income`
(`>50K` favourable / `<=50K`). `fnlwgt` is dropped. Missing values (`?` in
`workclass`, `occupation`, `native-country`) are empty cells (NaN when read with
pandas). Protected attributes: `sex` (privileged Male), `race` (privileged White),
`age` (privileged >= 25). `sex`, `race` and `age` are model features."""

BUILD_MD = "Rebuilt with `python sample_models/build.py` from the repository's `data/` directory (fixed seeds; deterministic)."


def prepare_bundle(name: str) -> Path:
    d = OUT / name
    if d.exists():
        shutil.rmtree(d)
    (d / "data").mkdir(parents=True)
    return d


# --------------------------------------------------------------------------------------
# lineage sections (read by trustaudit's lineage checks, see docs/lineage.md)
# --------------------------------------------------------------------------------------
LINEAGE_CREATED = "2026-01-01T00:00:00Z"  # fixed, so rebuilding gives byte-identical manifests
LINEAGE_LICENSE = "CC-BY-4.0"
LINEAGE_PRODUCER = {"name": "trustaudit sample_models/build.py", "organization": "trustaudit developers"}
# The samples are built from this repository's working tree, not from a published commit: the code reference
# is a PLACEHOLDER (marked 'placeholder: true'; lineage.completeness counts it as missing).
LINEAGE_CODE = {
    "repository": "https://example.invalid/trustaudit.git",
    "commit": "0" * 40,
    "path": "sample_models/build.py",
    "placeholder": True,
}
ADULT_SOURCE = {"uri": "https://doi.org/10.24432/C5XW20", "license": LINEAGE_LICENSE}
GERMAN_SOURCE = {"uri": "https://doi.org/10.24432/C5NC77", "license": LINEAGE_LICENSE}


def public_class_path(obj) -> str:
    """'sklearn.ensemble.HistGradientBoostingClassifier' rather than the private defining module."""
    parts = []
    for part in type(obj).__module__.split("."):
        if part.startswith("_"):
            break
        parts.append(part)
    return ".".join(parts + [type(obj).__name__])


def plain_params(est) -> dict:
    """The estimator's own get_params() that YAML can hold (scalars and lists of scalars)."""
    def ok(v):
        return v is None or isinstance(v, (str, bool, int, float)) or (
            isinstance(v, (list, tuple)) and all(ok(x) for x in v))
    out = {}
    for k, v in sorted(est.get_params(deep=False).items()):
        if ok(v):
            out[k] = list(v) if isinstance(v, tuple) else v
    return out


def lineage_block(d: Path, fitted: Pipeline, model_files: list[str], train: dict, evaluation: dict) -> str:
    """The ``lineage:`` YAML section of a bundle: digests, data, code, training parameters, producer."""
    import sklearn
    import yaml

    final = fitted.steps[-1][1]
    files = {f: f"sha256:{sha256(d / f)}" for f in [*model_files, "data/eval.csv.gz"]}
    section = {
        "files": files,
        "training_data": [{**train, "path": "data/train.csv.gz",
                           "digest": f"sha256:{sha256(d / 'data/train.csv.gz')}"}],
        "evaluation_data": {**evaluation, "path": "data/eval.csv.gz"},
        "code": LINEAGE_CODE,
        "base_model": None,
        "training": {
            "framework": "scikit-learn",
            "framework_version": sklearn.__version__,
            "estimator": public_class_path(final),
            "params": plain_params(final),
        },
        "producer": LINEAGE_PRODUCER,
        "created": LINEAGE_CREATED,
        "license": LINEAGE_LICENSE,
    }
    text = yaml.safe_dump({"lineage": section}, sort_keys=False, default_flow_style=False, width=1000)
    marker = "  code:\n"
    assert text.count(marker) == 1
    return text.replace(marker, "  # PLACEHOLDER code reference: built from a working tree, not a published commit\n"
                        + marker)


def card_front_matter(library: str | None) -> str:
    """Hugging Face model card front matter for README.md (license, library)."""
    lines = ["---", "license: cc-by-4.0"]
    if library:
        lines.append(f"library_name: {library}")
    lines += ["pipeline_tag: tabular-classification", "tags:", "- tabular-classification", "- trustaudit-sample",
              "---", ""]
    return "\n".join(lines)


def add_lineage(name: str, fitted: Pipeline, model_files: list[str], train: dict, evaluation: dict,
                library: str | None) -> None:
    """Append the lineage section to the bundle's manifest and front matter to its README (model card)."""
    d = OUT / name
    manifest_path = d / "trustaudit.yaml"
    write_text(manifest_path, manifest_path.read_text(encoding="utf-8")
               + lineage_block(d, fitted, model_files, train, evaluation))
    readme = d / "README.md"
    write_text(readme, card_front_matter(library) + readme.read_text(encoding="utf-8"))


def add_openness(name: str, model_files: list[str]) -> None:
    """Append an ``openness:`` section (Model Openness Framework declaration, see docs/openness.md).

    Honest about what a sample bundle releases: the model file (architecture and final parameters), the model
    card with its evaluation results, the data notice and the data (CC BY 4.0). There is no technical report or
    research paper and the training code lives in the trustaudit repository, not in the bundle, so the release is
    not a complete MOF Class III release and the openness check says so.
    """
    import yaml

    d = OUT / name
    comps: list[dict] = []
    for model_file in model_files[:1]:
        comps += [{"name": "Model architecture", "license": "Apache-2.0", "component_path": model_file},
                  {"name": "Model parameters (Final)", "license": "CC-BY-4.0", "component_path": model_file,
                   "description": "trained on CC BY 4.0 data; shared under the same terms"}]
    comps += [
        {"name": "Model card", "component_path": "README.md"},
        {"name": "Evaluation results", "component_path": "README.md",
         "description": "accuracy and AUC on the evaluation split, in the model card"},
        {"name": "Data card", "component_path": "LICENSE", "description": "provenance and changes of the data"},
        {"name": "Evaluation data", "component_path": "data/eval.csv.gz"},
        {"name": "Datasets", "component_path": "data/train.csv.gz"},
    ]
    section = {"openness": {"license": {"distribution": {"name": "Apache-2.0"},
                                        "data": {"name": "CC-BY-4.0"},
                                        "document": {"name": "CC-BY-4.0"}},
                            "components": comps}}
    text = ("\n# Model Openness Framework declaration (see docs/openness.md)\n"
            + yaml.safe_dump(section, sort_keys=False, default_flow_style=False, width=1000))
    manifest_path = d / "trustaudit.yaml"
    write_text(manifest_path, manifest_path.read_text(encoding="utf-8") + text)


# --------------------------------------------------------------------------------------
# multiclass and regression samples (issue 17), on UCI Adult (CC BY 4.0)
# --------------------------------------------------------------------------------------
HOURS = "hours-per-week"
HOURS_BAND = "hours_band"
#: The derived 3-level target of the multiclass sample: the working-time regime of a person.
HOURS_BANDS = (("part-time", 0, 35), ("full-time", 35, 46), ("overtime", 46, 1000))
TASK_FEATURES = [c for c in ADULT_FEATURES if c != HOURS]
TASK_NUMERIC = [c for c in ADULT_NUMERIC if c != HOURS]
TASK_TRAIN_ROWS, TASK_EVAL_ROWS = 10_000, 5_000


def hours_band(hours: pd.Series) -> pd.Series:
    out = pd.Series(index=hours.index, dtype="object")
    for label, lo, hi in HOURS_BANDS:
        out[(hours >= lo) & (hours < hi)] = label
    assert out.notna().all()
    return out


def task_manifest(name: str, description: str, task: str, label: str, favorable: str | None) -> str:
    lines = ["trustaudit: 1", f"name: {name}", "version: 1.0.0", f"task: {task}", f"description: {description}",
             "model:", "  path: model.skops", "  format: skops", "data:", "  path: data/eval.csv.gz",
             f"  label: {yaml_str(label)}"]
    if favorable is not None:
        lines.append(f"  favorable_label: {yaml_str(favorable)}")
    lines += ["training_data:", "  path: data/train.csv.gz", "protected:", *ADULT_PROTECTED]
    return "\n".join(lines) + "\n"


TASK_DATA_MD = f"""\
UCI Adult (census income): `data/train.csv.gz` = a seeded sample of {TASK_TRAIN_ROWS:,} rows of adult.data,
`data/eval.csv.gz` = a seeded sample of {TASK_EVAL_ROWS:,} rows of adult.test (seed 0, without replacement).
Features: every Adult column but `fnlwgt`, `{HOURS}` and `income`. Protected attributes: `sex` (privileged Male),
`race` (privileged White), `age` (privileged >= 25); all three are model features."""


def build_task_samples(train: pd.DataFrame, test: pd.DataFrame, summary: dict, untrusted_all: dict) -> None:
    """adult-hours-regressor (task: regression) and adult-hours-band (task: multiclass-classification)."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import mean_absolute_error, r2_score

    tr = train.sample(n=TASK_TRAIN_ROWS, random_state=SEED).sort_index().reset_index(drop=True)
    te = test.sample(n=TASK_EVAL_ROWS, random_state=SEED).sort_index().reset_index(drop=True)
    pre = ColumnTransformer([("cat", categorical_pipe(), ADULT_CATEGORICAL), ("num", StandardScaler(), TASK_NUMERIC)])

    # ---------------- adult-hours-regressor
    name = "adult-hours-regressor"
    d = prepare_bundle(name)
    reg = Pipeline([("preprocess", pre), ("regressor", HistGradientBoostingRegressor(max_iter=100,
                                                                                      random_state=SEED))])
    reg.fit(tr[TASK_FEATURES], tr[HOURS])
    write_csv_gz(tr, d / "data/train.csv.gz")
    write_csv_gz(te, d / "data/eval.csv.gz")
    canonical_skops_dump(reg, d / "model.skops")
    loaded, untrusted = load_skops(d / "model.skops")
    ev = pd.read_csv(d / "data/eval.csv.gz")
    pred = loaded.predict(ev[TASK_FEATURES])
    assert np.array_equal(pred, reg.predict(te[TASK_FEATURES]))
    mae, r2 = float(mean_absolute_error(ev[HOURS], pred)), float(r2_score(ev[HOURS], pred))
    summary[name] = {"accuracy": float("nan"), "auc": float("nan"), "n_eval": len(ev), "mae": mae, "r2": r2}
    untrusted_all[name] = untrusted
    write_text(d / "trustaudit.yaml", task_manifest(
        name, "HistGradientBoosting regressor of weekly working hours on UCI Adult", "regression", HOURS, None))
    write_text(d / "README.md", model_card(
        name,
        f"Regressor predicting a person's usual weekly working hours (`{HOURS}`). scikit-learn "
        "`Pipeline(ColumnTransformer[SimpleImputer(most_frequent) -> OneHotEncoder(handle_unknown='ignore') on "
        "categoricals, StandardScaler on numerics] -> HistGradientBoostingRegressor(max_iter=100, random_state=0))`, "
        "saved with skops (`model.skops`).",
        TASK_DATA_MD + f" Target: `{HOURS}` (hours, 1-99).", BUILD_MD, None, ADULT_ATTRIBUTION,
        "## Metrics (on data/eval.csv.gz, measured by build.py)\n\n| metric | value |\n|---|---|\n"
        f"| MAE (hours) | {mae:.3f} |\n| R² | {r2:.4f} |\n| eval rows | {len(ev):,} |\n"))
    write_text(d / "LICENSE", license_text(ADULT_ATTRIBUTION))

    # ---------------- adult-hours-band (3 classes)
    name = "adult-hours-band"
    d = prepare_bundle(name)
    trb, teb = tr.drop(columns=[HOURS]), te.drop(columns=[HOURS])
    trb[HOURS_BAND], teb[HOURS_BAND] = hours_band(tr[HOURS]), hours_band(te[HOURS])
    pre_c = ColumnTransformer([("cat", categorical_pipe(), ADULT_CATEGORICAL),
                               ("num", StandardScaler(), TASK_NUMERIC)])
    clf = Pipeline([("preprocess", pre_c), ("classifier", LogisticRegression(max_iter=2000, C=1.0))])
    clf.fit(trb[TASK_FEATURES], trb[HOURS_BAND])
    write_csv_gz(trb, d / "data/train.csv.gz")
    write_csv_gz(teb, d / "data/eval.csv.gz")
    canonical_skops_dump(clf, d / "model.skops")
    loaded, untrusted = load_skops(d / "model.skops")
    ev = pd.read_csv(d / "data/eval.csv.gz")
    proba = loaded.predict_proba(ev[TASK_FEATURES])
    assert np.array_equal(proba, clf.predict_proba(teb[TASK_FEATURES]))
    acc = float(accuracy_score(ev[HOURS_BAND], loaded.predict(ev[TASK_FEATURES])))
    auc = float(roc_auc_score(ev[HOURS_BAND], proba, multi_class="ovr", labels=list(loaded.classes_)))
    summary[name] = {"accuracy": acc, "auc": auc, "n_eval": len(ev)}
    untrusted_all[name] = untrusted
    bands = ", ".join(f"`{lab}` ({lo} <= hours < {hi})" if hi < 1000 else f"`{lab}` (hours >= {lo})"
                      for lab, lo, hi in HOURS_BANDS)
    write_text(d / "trustaudit.yaml", task_manifest(
        name, "Multinomial logistic regression of the working-time regime (3 classes) on UCI Adult",
        "multiclass-classification", HOURS_BAND, None))
    write_text(d / "README.md", model_card(
        name,
        f"Multiclass classifier (3 classes) predicting a person's working-time regime `{HOURS_BAND}`, derived "
        f"from `{HOURS}`: {bands}. scikit-learn `Pipeline(ColumnTransformer[SimpleImputer(most_frequent) -> "
        "OneHotEncoder(handle_unknown='ignore') on categoricals, StandardScaler on numerics] -> "
        "LogisticRegression(max_iter=2000))` (multinomial), saved with skops (`model.skops`).",
        TASK_DATA_MD + f" Target: `{HOURS_BAND}`, derived from `{HOURS}` as above (`{HOURS}` itself is dropped).",
        BUILD_MD, None, ADULT_ATTRIBUTION,
        "## Metrics (on data/eval.csv.gz, measured by build.py)\n\n| metric | value |\n|---|---|\n"
        f"| accuracy | {acc:.4f} |\n| ROC AUC (one-vs-rest, macro) | {auc:.4f} |\n| eval rows | {len(ev):,} |\n"))
    write_text(d / "LICENSE", license_text(ADULT_ATTRIBUTION + f"\nFor this bundle: rows sampled as described in "
                                           f"README.md; `{HOURS_BAND}` derived from `{HOURS}`."))

    split = {"train": f"seeded sample of {TASK_TRAIN_ROWS:,} rows of adult.data (seed 0)",
             "eval": f"seeded sample of {TASK_EVAL_ROWS:,} rows of adult.test (seed 0)"}
    for bundle_name, fitted, tag in (("adult-hours-regressor", reg, "tabular-regression"),
                                     ("adult-hours-band", clf, "tabular-classification")):
        add_lineage(bundle_name, fitted, ["model.skops"],
                    {"name": "UCI Adult: adult.data sample", **ADULT_SOURCE, "rows": TASK_TRAIN_ROWS,
                     "description": split["train"]},
                    {"name": "UCI Adult: adult.test sample", **ADULT_SOURCE, "rows": TASK_EVAL_ROWS,
                     "description": split["eval"]}, "sklearn")
        readme = OUT / bundle_name / "README.md"
        write_text(readme, readme.read_text(encoding="utf-8").replace("tabular-classification", tag))
        add_openness(bundle_name, ["model.skops"])


# --------------------------------------------------------------------------------------
def main() -> int:
    t0 = time.time()
    summary: dict[str, dict] = {}
    untrusted_all: dict[str, list[str]] = {}

    train = read_adult("adult.data")
    test = read_adult("adult.test")
    assert len(train) == 32561 and len(test) == 16281, (len(train), len(test))
    Xtr, ytr = train[ADULT_FEATURES], train[ADULT_LABEL]
    Xte, yte = test[ADULT_FEATURES], test[ADULT_LABEL]
    build_task_samples(train, test, summary, untrusted_all)
    if "--tasks-only" in sys.argv:  # only the multiclass and regression samples
        for k, v in untrusted_all.items():
            print(f"[{k}] {v} skops untrusted types: {untrusted_all[k]}")
        return 0

    # ---------------- adult-income-hgb
    name = "adult-income-hgb"
    d = prepare_bundle(name)
    hgb = adult_hgb().fit(Xtr, ytr)
    write_csv_gz(train, d / "data/train.csv.gz")
    write_csv_gz(test, d / "data/eval.csv.gz")
    canonical_skops_dump(hgb, d / "model.skops")
    # evaluate the reloaded model exactly as a consumer would: from the bundle files
    hgb_loaded, untrusted = load_skops(d / "model.skops")
    ev = pd.read_csv(d / "data/eval.csv.gz")
    m = evaluate(hgb_loaded, ev[ADULT_FEATURES], ev[ADULT_LABEL], ADULT_POS)
    assert np.array_equal(hgb_loaded.predict_proba(Xte), hgb.predict_proba(Xte))
    summary[name] = m
    untrusted_all[name] = untrusted
    write_text(d / "trustaudit.yaml", manifest(
        name, "HistGradientBoosting on UCI Adult (census income), trained on adult.data",
        ("model.skops", "skops"), ADULT_LABEL, ADULT_POS, None, None, ADULT_PROTECTED))
    write_text(d / "README.md", model_card(
        name,
        "Binary classifier predicting whether a person's income exceeds $50K/year. "
        "scikit-learn `Pipeline(ColumnTransformer[SimpleImputer(most_frequent) -> "
        "OneHotEncoder(handle_unknown='ignore') on categoricals, passthrough numerics] -> "
        "HistGradientBoostingClassifier(random_state=0))`, saved with skops (`model.skops`).",
        ADULT_DATA_MD, BUILD_MD, m, ADULT_ATTRIBUTION,
        "## Loading\n\n```python\nimport skops.io as sio\n"
        "model = sio.load('model.skops', trusted=sio.get_untrusted_types(file='model.skops'))\n```\n"
        "Review the untrusted types before trusting them: " + ", ".join(f"`{t}`" for t in untrusted) + ".\n"))
    write_text(d / "LICENSE", license_text(ADULT_ATTRIBUTION))

    # ---------------- adult-income-predictions (scores of the HGB model)
    name = "adult-income-predictions"
    d = prepare_bundle(name)
    pos_idx = list(hgb.classes_).index(ADULT_POS)
    preds = test.copy()
    preds["pred_income"] = hgb.predict(Xte)
    preds["score"] = hgb.predict_proba(Xte)[:, pos_idx]
    write_csv_gz(train, d / "data/train.csv.gz")
    write_csv_gz(preds, d / "data/eval.csv.gz")
    ev = pd.read_csv(d / "data/eval.csv.gz")
    mp = {
        "n_eval": int(len(ev)),
        "accuracy": float(accuracy_score(ev[ADULT_LABEL], ev["pred_income"])),
        "auc": float(roc_auc_score((ev[ADULT_LABEL] == ADULT_POS).astype(int), ev["score"])),
    }
    assert abs(mp["accuracy"] - m["accuracy"]) < 1e-12 and abs(mp["auc"] - m["auc"]) < 1e-12
    summary[name] = mp
    write_text(d / "trustaudit.yaml", manifest(
        name, "Predictions of the adult-income-hgb model on adult.test (predictions only, no model)",
        None, ADULT_LABEL, ADULT_POS, "pred_income", "score", ADULT_PROTECTED))
    write_text(d / "README.md", model_card(
        name,
        "Predictions-only bundle: the UCI Adult test split with the predictions of the "
        "`adult-income-hgb` model added as columns `pred_income` (predicted label, `>50K`/`<=50K`) "
        "and `score` (predicted probability of `>50K`). No model file; audits that need "
        "only labels, predictions and scores (e.g. group fairness) work on it.",
        ADULT_DATA_MD + "\n\n`data/eval.csv.gz` additionally has `pred_income` and `score`.",
        BUILD_MD, mp, ADULT_ATTRIBUTION))
    write_text(d / "LICENSE", license_text(ADULT_ATTRIBUTION))

    # ---------------- adult-income-logreg (+ ONNX)
    name = "adult-income-logreg"
    d = prepare_bundle(name)
    lr = adult_logreg().fit(Xtr, ytr)
    write_csv_gz(train, d / "data/train.csv.gz")
    write_csv_gz(test, d / "data/eval.csv.gz")
    canonical_skops_dump(lr, d / "model.skops")
    onnx_bytes = to_onnx(lr, ADULT_CATEGORICAL, ADULT_NUMERIC, ADULT_FEATURES)
    (d / "model.onnx").write_bytes(onnx_bytes)
    lr_loaded, untrusted = load_skops(d / "model.skops")
    assert np.array_equal(lr_loaded.predict_proba(Xte), lr.predict_proba(Xte))
    ev = pd.read_csv(d / "data/eval.csv.gz")
    m = evaluate(lr_loaded, ev[ADULT_FEATURES], ev[ADULT_LABEL], ADULT_POS)
    summary[name] = m
    untrusted_all[name] = untrusted

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_bytes, sess_options=so, providers=["CPUExecutionProvider"])
    onnx_label, onnx_proba = sess.run(None, onnx_feed(ev, ADULT_CATEGORICAL, ADULT_NUMERIC))
    skl_proba = lr_loaded.predict_proba(ev[ADULT_FEATURES])
    onnx_diff = float(np.max(np.abs(onnx_proba - skl_proba)))
    label_agree = float(np.mean(onnx_label.ravel() == lr_loaded.predict(ev[ADULT_FEATURES])))
    print(f"[{name}] ONNX vs sklearn: max |proba diff| = {onnx_diff:.3g}, label agreement = {label_agree:.6f}")
    assert onnx_diff < 1e-4, onnx_diff
    onnx_m = {
        "n_eval": int(len(ev)),
        "accuracy": float(np.mean(onnx_label.ravel() == ev[ADULT_LABEL].to_numpy())),
        "auc": float(roc_auc_score((ev[ADULT_LABEL] == ADULT_POS).astype(int),
                                   onnx_proba[:, list(lr.classes_).index(ADULT_POS)])),
        "max_abs_proba_diff_vs_sklearn": onnx_diff,
    }
    summary[name + " (onnx)"] = onnx_m
    import onnx

    onnx_opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}"
                            for o in onnx.load_from_string(onnx_bytes).opset_import)
    onnx_md = (
        f"## ONNX model\n\n`model.onnx` (converted with skl2onnx, opsets {onnx_opsets}, "
        "`zipmap=False`) has one input per feature column, named exactly like the column, "
        "shape `[None, 1]`: `tensor(string)` for "
        + ", ".join(f"`{c}`" for c in ADULT_CATEGORICAL)
        + "; `tensor(float)` for " + ", ".join(f"`{c}`" for c in ADULT_NUMERIC)
        + ". Missing categorical values must be fed as the empty string `\"\"` (the ONNX "
        "imputer replaces `\"\"` by the training most-frequent value, like the sklearn "
        "imputer does for NaN). Outputs: `label` (string, `[N]`) and `probabilities` "
        f"(float, `[N, 2]`, columns in class order {list(lr.classes_)}). "
        f"Max |probability difference| vs the sklearn pipeline on eval: {onnx_diff:.2g}.\n"
    )
    write_text(d / "trustaudit.yaml", manifest(
        name, "LogisticRegression on UCI Adult (census income), trained on adult.data",
        ("model.skops", "skops"), ADULT_LABEL, ADULT_POS, None, None, ADULT_PROTECTED))
    lr_what = ("Binary classifier predicting whether a person's income exceeds $50K/year. "
               "scikit-learn `Pipeline(ColumnTransformer[SimpleImputer(most_frequent) -> "
               "OneHotEncoder(handle_unknown='ignore') on categoricals, StandardScaler on numerics] -> "
               "LogisticRegression(max_iter=1000, random_state=0))`.")
    write_text(d / "README.md", model_card(
        name, lr_what + " Saved with skops (`model.skops`, the model the manifest points at) "
        "and also exported to ONNX (`model.onnx`).",
        ADULT_DATA_MD, BUILD_MD, m, ADULT_ATTRIBUTION, onnx_md))
    write_text(d / "LICENSE", license_text(ADULT_ATTRIBUTION))

    # ---------------- adult-income-logreg-onnx (self-contained copy, manifest -> ONNX)
    name = "adult-income-logreg-onnx"
    d = prepare_bundle(name)
    (d / "model.onnx").write_bytes(onnx_bytes)
    write_csv_gz(train, d / "data/train.csv.gz")
    write_csv_gz(test, d / "data/eval.csv.gz")
    summary[name] = onnx_m
    write_text(d / "trustaudit.yaml", manifest(
        name, "LogisticRegression on UCI Adult (census income) exported to ONNX, trained on adult.data",
        ("model.onnx", "onnx"), ADULT_LABEL, ADULT_POS, None, None, ADULT_PROTECTED))
    write_text(d / "README.md", model_card(
        name, lr_what + " Exported to ONNX with skl2onnx; this bundle ships only `model.onnx` "
        "(the same model as `adult-income-logreg`).",
        ADULT_DATA_MD, BUILD_MD, onnx_m, ADULT_ATTRIBUTION, onnx_md))
    write_text(d / "LICENSE", license_text(ADULT_ATTRIBUTION))

    # ---------------- german-credit
    name = "german-credit"
    d = prepare_bundle(name)
    g = read_german()
    g_features = [c for c in g.columns if c != GERMAN_LABEL]
    g_num = [n for n, codes in GERMAN_SPEC if codes is None]
    g_cat = [c for c in g_features if c not in g_num]
    g_train, g_eval = train_test_split(g, test_size=0.3, stratify=g[GERMAN_LABEL], random_state=SEED)
    g_train, g_eval = g_train.sort_index(), g_eval.sort_index()
    rf = german_rf(g_cat, g_num).fit(g_train[g_features], g_train[GERMAN_LABEL])
    write_csv_gz(g_train, d / "data/train.csv.gz")
    write_csv_gz(g_eval, d / "data/eval.csv.gz")
    canonical_skops_dump(rf, d / "model.skops")
    rf_loaded, untrusted = load_skops(d / "model.skops")
    assert np.array_equal(rf_loaded.predict_proba(g_eval[g_features]), rf.predict_proba(g_eval[g_features]))
    ev = pd.read_csv(d / "data/eval.csv.gz")
    m = evaluate(rf_loaded, ev[g_features], ev[GERMAN_LABEL], "good")
    summary[name] = m
    untrusted_all[name] = untrusted
    write_text(d / "trustaudit.yaml", manifest(
        name, "RandomForest on UCI Statlog German credit (decoded columns), 70/30 stratified split",
        ("model.skops", "skops"), GERMAN_LABEL, "good", None, None, GERMAN_PROTECTED))
    german_cols = []
    for n, codes in GERMAN_SPEC:
        german_cols.append(f"- `{n}`: " + ("numeric" if codes is None else " / ".join(f"`{v}`" for v in codes.values())))
        if n == "personal_status":
            german_cols.append("- `sex`: derived from `personal_status`: `male` / `female`")
    german_cols.append("- `credit` (label): `good` (favourable, code 1) / `bad` (code 2)")
    write_text(d / "README.md", model_card(
        name,
        "Binary credit-risk classifier (good/bad) on the German credit data. scikit-learn "
        "`Pipeline(ColumnTransformer[OneHotEncoder(handle_unknown='ignore') on categoricals, "
        "passthrough numerics] -> RandomForestClassifier(n_estimators=200, random_state=0))`, "
        "saved with skops (`model.skops`). All non-label columns, including the derived `sex`, "
        "are features.",
        "UCI Statlog German credit, 1,000 rows, split 70/30 stratified on the label "
        "(seed 0): `data/train.csv.gz` (700 rows), `data/eval.csv.gz` (300 rows). "
        "Protected attributes: `sex` (privileged male), `age` (privileged >= 25). "
        "german.doc's cost matrix (predicting good for a bad customer costs 5, the reverse 1) "
        "is not used in training. Columns:\n\n" + "\n".join(german_cols),
        BUILD_MD, m, GERMAN_ATTRIBUTION))
    write_text(d / "LICENSE", license_text(GERMAN_ATTRIBUTION))

    # ---------------- lineage (digests are taken from the files written above)
    adult_train = {"name": "UCI Adult: adult.data", **ADULT_SOURCE, "rows": int(len(train)),
                   "description": "adult.data, fnlwgt dropped (see LICENSE for all changes)"}
    adult_eval = {"name": "UCI Adult: adult.test", **ADULT_SOURCE, "rows": int(len(test)),
                  "description": "adult.test, fnlwgt dropped, labels without the trailing '.'"}
    add_lineage("adult-income-hgb", hgb, ["model.skops"], adult_train, adult_eval, "sklearn")
    add_lineage("adult-income-predictions", hgb, [], adult_train, adult_eval, "sklearn")
    add_lineage("adult-income-logreg", lr, ["model.skops", "model.onnx"], adult_train, adult_eval, "sklearn")
    add_lineage("adult-income-logreg-onnx", lr, ["model.onnx"], adult_train, adult_eval, None)
    german_split = "70/30 split of german.data stratified on the label (seed 0)"
    add_lineage("german-credit", rf, ["model.skops"],
                {"name": "UCI Statlog German credit: training split", **GERMAN_SOURCE, "rows": int(len(g_train)),
                 "description": german_split + ", training part"},
                {"name": "UCI Statlog German credit: evaluation split", **GERMAN_SOURCE, "rows": int(len(g_eval)),
                 "description": german_split + ", evaluation part"}, "sklearn")

    # ---------------- openness (MOF) declarations
    for bundle_name, files in (("adult-income-hgb", ["model.skops"]), ("adult-income-predictions", []),
                               ("adult-income-logreg", ["model.skops"]), ("adult-income-logreg-onnx", ["model.onnx"]),
                               ("german-credit", ["model.skops"])):
        add_openness(bundle_name, files)

    # ---------------- report
    print()
    print(f"{'bundle':34s} {'accuracy':>9s} {'AUC':>8s} {'n_eval':>7s}")
    for k, v in summary.items():
        print(f"{k:34s} {v['accuracy']:9.4f} {v['auc']:8.4f} {v['n_eval']:7d}")
    print()
    for k, v in untrusted_all.items():
        print(f"[{k}] skops untrusted types: {v}")
    print()
    total = 0
    for p in sorted(OUT.rglob("*")):
        if p.is_file() and p.parent.name != "__pycache__" and p.name != "build.py":
            total += p.stat().st_size
            print(f"{p.stat().st_size:>10,d}  {sha256(p)[:16]}  {p.relative_to(OUT)}")
    print(f"total bundle size: {total / 1e6:.2f} MB; build time {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
