"""The small valid bundle every corpus case is dropped into (built at test time, so the skops file always matches
the installed scikit-learn), and helpers shared by the corpus generator and the corpus tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).resolve().parent / "corpus"
INDEX = CORPUS / "index.yaml"

BASE_MANIFEST = """\
trustaudit: 1
name: corpus
version: 0.1.0
task: binary-classification
model: {path: model.skops, format: skops}
data: {path: data/eval.csv, label: approved, favorable_label: 'yes'}
protected:
  sex: {privileged: [male]}
  age: {privileged: '>= 25'}
"""


def make_base_bundle(dest: Path, n: int = 150) -> Path:
    """A skops LogisticRegression pipeline on a synthetic credit table (income, debt, age, sex -> approved)."""
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from tests.conftest import make_synthetic

    df = make_synthetic(n, seed=1)
    X = df.drop(columns="approved")
    pre = ColumnTransformer([("num", StandardScaler(), ["income", "debt", "age"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"])])
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression(random_state=0))]).fit(X, df["approved"])
    (dest / "data").mkdir(parents=True, exist_ok=True)
    df.to_csv(dest / "data" / "eval.csv", index=False)
    sio.dump(pipe, dest / "model.skops")
    (dest / "trustaudit.yaml").write_text(BASE_MANIFEST)
    return dest


def load_index() -> list[dict[str, Any]]:
    cases = yaml.safe_load(INDEX.read_text(encoding="utf-8"))
    assert isinstance(cases, list)
    return cases


def install_case(case: dict[str, Any], base: Path, work: Path) -> Path:
    """Copy the base bundle to ``work/bundle`` and put the case's file where its kind says; returns the bundle."""
    bundle = work / "bundle"
    shutil.copytree(base, bundle)
    src = CORPUS / case["file"]
    manifest = BASE_MANIFEST
    for old, new in case.get("replace", []):
        assert old in manifest, old
        manifest = manifest.replace(old, new)
    manifest += case.get("append", "")
    kind = case["kind"]
    dest = bundle / case["dest"] if "dest" in case else None
    if kind in ("manifest", "manifest-lint"):
        dest = bundle / "trustaudit.yaml"
    elif kind in ("data", "data-audit"):
        dest = dest or bundle / "data" / "eval.csv"
    elif kind == "model":
        dest = dest or bundle / src.name
    elif kind == "mlmodel":
        dest = bundle / "mlmodel" / "MLmodel"
        dest.parent.mkdir()
        shutil.copy(base / "model.skops", bundle / "mlmodel" / "model.skops")
    elif kind == "card":
        dest = bundle / "README.md"
    elif kind == "bom":
        dest = dest or bundle / "bom.cdx.json"
    else:
        raise AssertionError(f"not a bundle case: {kind}")
    (bundle / "trustaudit.yaml").write_text(manifest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest)
    else:
        shutil.copy(src, dest)
    return bundle
