"""Write the bad-input corpus (tests/hardening/corpus/) and its index (corpus/index.yaml).

Run from the repository root: ``.venv/bin/python -m tests.hardening.make_corpus``. The output is committed;
tests/hardening/test_corpus.py feeds every case to its command. Each index entry names the file, its ``kind``
(where it goes and which command reads it: see corpus_base.install_case and test_corpus.run_case), the expected
fragment of the one-line error (``expect``) and, for bundle cases, edits of the base manifest (``replace`` /
``append``). Model files are generated from tiny models, so they stay a few kilobytes.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tests.hardening.corpus_base import BASE_MANIFEST, CORPUS, INDEX, make_base_bundle

CASES: list[dict[str, Any]] = []

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))
DEEP = "x: " + "[" * 100 + "]" * 100 + "\n"
MANY_ALIASES = "a: &a x\nb: [" + ", ".join(["*a"] * 1100) + "]\n"
BAD_TAGS = {
    "int": "!!int 0x",
    "float": "!!float abc",
    "timestamp": "!!timestamp 2024-99-99",
    "binary": "!!binary '@@'",
    "python": "!!python/object/apply:os.system ['true']",
}
TAG_EXPECT = {"int": "YAML tag", "float": "YAML tag", "timestamp": "YAML tag", "binary": "YAML tag",
              "python": "not valid YAML"}


def add(kind: str, name: str, content: str | bytes, expect: str, **extra: Any) -> None:
    folder = {"manifest-lint": "manifest", "data-audit": "data", "card-openness": "card",
              "report-render": "report", "rubric-gate": "rubric"}.get(kind, kind)
    path = CORPUS / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not path.exists():
        path.write_bytes(content)
    else:
        assert path.read_bytes() == content, f"{path} written twice with different contents"
    CASES.append({"file": f"{folder}/{name}", "kind": kind, "expect": expect, **extra})


def with_manifest(old: str, new: str) -> str:
    assert old in BASE_MANIFEST, old
    return BASE_MANIFEST.replace(old, new)


# ------------------------------------------------------------------------------------------------ manifests


def manifests() -> None:
    m = BASE_MANIFEST
    add("manifest", "empty.yaml", "", "is empty")
    add("manifest", "comment_only.yaml", "# nothing here\n", "is empty")
    add("manifest", "top_list.yaml", "- trustaudit: 1\n", "must be a YAML mapping")
    add("manifest", "top_scalar.yaml", "hello\n", "must be a YAML mapping")
    add("manifest", "unclosed.yaml", "trustaudit: 1\nname: [unclosed\n", "not valid YAML")
    add("manifest", "tab_indent.yaml", "trustaudit: 1\ndata:\n\tpath: x\n", "not valid YAML")
    add("manifest", "version_2.yaml", m.replace("trustaudit: 1", "trustaudit: 2"), "unsupported manifest version")
    add("manifest", "version_text.yaml", m.replace("trustaudit: 1", "trustaudit: one"),
        "unsupported manifest version")
    add("manifest", "no_name.yaml", m.replace("name: corpus\n", ""), "required key 'name'")
    add("manifest", "no_data.yaml", m.split("data:")[0], "required key 'data'")
    add("manifest", "typo_label.yaml", m.replace("label: approved", "lable: approved"), "unknown key 'data.lable'")
    add("manifest", "typo_model.yaml", m.replace("model:", "modle:"), "did you mean 'model'")
    add("manifest", "name_mapping.yaml", m.replace("name: corpus", "name: {a: 1}"), "'name'")
    add("manifest", "name_empty.yaml", m.replace("name: corpus", "name: ''"), "'name'")
    add("manifest", "format_unknown.yaml", m.replace("format: skops", "format: tensorflow"), "model.format")
    add("manifest", "task_regression.yaml", m.replace("task: binary-classification", "task: regression"),
        "task regression needs a numeric target")
    add("manifest", "task_unknown.yaml", m.replace("task: binary-classification", "task: clustering"), "'task'")
    add("manifest", "data_absolute.yaml", m.replace("path: data/eval.csv", "path: /etc/passwd"), "absolute")
    add("manifest", "data_dotdot.yaml", m.replace("path: data/eval.csv", "path: ../../outside.csv"),
        "outside the bundle")
    add("manifest", "data_missing.yaml", m.replace("path: data/eval.csv", "path: data/nope.csv"), "does not exist")
    add("manifest", "data_empty_path.yaml", m.replace("path: data/eval.csv", "path: ''"), "data.path is empty")
    add("manifest", "model_missing.yaml", m.replace("path: model.skops", "path: nope.skops"), "does not exist")
    add("manifest", "model_dotdot.yaml", m.replace("path: model.skops", "path: ../model.skops"), "model.path")
    add("manifest", "label_missing.yaml", m.replace("label: approved", "label: approve"), "did you mean 'approved'")
    add("manifest", "favorable_never.yaml", m.replace("favorable_label: 'yes'", "favorable_label: 'YES'"),
        "never occurs")
    add("manifest", "favorable_list.yaml", m.replace("favorable_label: 'yes'", "favorable_label: [yes]"),
        "favorable_label")
    add("manifest", "favorable_missing.yaml", m.replace(", favorable_label: 'yes'", ""),
        "data.favorable_label is required")
    add("manifest", "protected_missing_col.yaml", m.replace("  sex: {", "  gender: {"),
        "protected attribute 'gender'")
    add("manifest", "privileged_never.yaml", m.replace("[male]", "[Male]"), "never occur")
    add("manifest", "privileged_empty_list.yaml", m.replace("[male]", "[]"), "never occur")
    add("manifest", "privileged_bad_threshold.yaml", m.replace("'>= 25'", "'about 25'"), "numeric threshold")
    add("manifest", "threshold_on_text.yaml", m.replace("sex: {privileged: [male]}", "sex: {privileged: '>= 3'}"),
        "not numeric")
    add("manifest", "unprivileged_never.yaml",
        m.replace("{privileged: [male]}", "{privileged: [male], unprivileged: [other]}"), "unprivileged value")
    add("manifest", "empty_group.yaml", m.replace("'>= 25'", "'>= 0'"), "unprivileged group is empty")
    add("manifest", "protected_list.yaml", m.split("protected:")[0] + "protected: [sex]\n", "'protected'")
    add("manifest", "prediction_col_missing.yaml",
        m.replace("favorable_label: 'yes'}", "favorable_label: 'yes', prediction: pred}"), "data.prediction")
    add("manifest", "score_col_missing.yaml",
        m.replace("favorable_label: 'yes'}", "favorable_label: 'yes', score: p}"), "data.score")
    add("manifest", "score_not_proba.yaml",
        m.replace("favorable_label: 'yes'}", "favorable_label: 'yes', score: income}"), "between 0 and 1")
    add("manifest", "features_missing.yaml",
        m.replace("favorable_label: 'yes'}", "favorable_label: 'yes', features: [income, wealth]}"),
        "data.features names columns missing")
    add("manifest", "immutable_missing.yaml", m + "immutable: [height]\n", "immutable column 'height'")
    add("manifest", "no_model_no_prediction.yaml", m.replace("model: {path: model.skops, format: skops}\n", ""),
        "neither a model nor data.prediction")
    add("manifest", "trusted_types_string.yaml",
        m.replace("format: skops}", "format: skops, trusted_types: builtins.exec}"), "model.trusted_types")
    add("manifest", "pickle_refused.yaml", m.replace("format: skops", "format: pickle"), "refusing to load")
    add("manifest", "merge_scalar.yaml", m + "<<: 1\n", "not valid YAML")
    add("manifest", "data_null.yaml", m.replace("data: {path: data/eval.csv, label: approved, "
                                                "favorable_label: 'yes'}", "data: null"), "'data'")
    for tag, value in BAD_TAGS.items():
        add("manifest", f"tag_{tag}.yaml", m.replace("version: 0.1.0", f"version: {value}"), TAG_EXPECT[tag])
    add("manifest", "huge_int.yaml", m.replace("version: 0.1.0", "version: " + "9" * 5000), "YAML tag")
    add("manifest", "billion_laughs.yaml", LAUGHS + m, "expands to more than")
    add("manifest", "deep_nesting.yaml", m + DEEP, "deeper than")
    add("manifest", "many_aliases.yaml", m + MANY_ALIASES, "aliases")
    add("manifest", "latin1.yaml", m.replace("corpus", "corp\u00fcs").encode("latin-1"), "not UTF-8")
    add("manifest", "nul_bytes.yaml", m.replace("corpus", "cor\x00pus"), "not valid YAML")
    # the lineage section (validated by 'trustaudit validate')
    add("manifest", "lineage_list.yaml", m + "lineage: [1, 2]\n", "'lineage'")
    add("manifest", "lineage_unknown_key.yaml", m + "lineage: {filez: {}}\n", "lineage.filez")
    add("manifest", "lineage_md5.yaml", m + "lineage:\n  files: {model.skops: 'md5:" + "0" * 32 + "'}\n",
        "collision-prone")
    add("manifest", "lineage_short_hex.yaml", m + "lineage:\n  files: {model.skops: 'sha256:abc'}\n",
        "64 hex characters")
    add("manifest", "lineage_no_colon.yaml", m + "lineage:\n  files: {model.skops: 'abc'}\n", "sha256:<hex>")
    add("manifest", "lineage_digest_empty_set.yaml", m + "lineage:\n  files: {model.skops: {}}\n",
        "at least one algorithm")
    add("manifest", "lineage_dotdot_file.yaml",
        m + "lineage:\n  files: {../x: 'sha256:" + "0" * 64 + "'}\n", "climbs out")
    add("manifest", "lineage_created_text.yaml", m + "lineage: {created: yesterday}\n", "lineage.created")
    add("manifest", "lineage_training_empty.yaml", m + "lineage: {training_data: [{}]}\n", "give at least one of")
    add("manifest", "lineage_rows_negative.yaml", m + "lineage: {training_data: {name: x, rows: -1}}\n",
        "lineage.training_data[0].rows")
    add("manifest", "lineage_card_missing.yaml", m + "lineage: {sources: {model_card: CARD.md}}\n",
        "does not exist")
    add("manifest", "lineage_bom_absolute.yaml", m + "lineage: {sources: {bom: /etc/bom.json}}\n", "absolute")
    add("manifest", "lineage_producer_list.yaml", m + "lineage: {producer: [a, b]}\n", "lineage.producer")
    add("manifest", "openness_list.yaml", m + "openness: [a]\n", "'openness'")
    # 'trustaudit lint' of a manifest also loads its rubric
    add("manifest-lint", "lint_rubric_missing.yaml", m + "rubric: nope.yaml\n", "rubric")
    add("manifest-lint", "lint_rubric_unknown_name.yaml", m + "rubric: no-such-rubric\n", "not found")
    add("manifest-lint", "lint_openness_bad.yaml", m + "openness: {components: [{name: weights}]}\n",
        "unknown component")


# ------------------------------------------------------------------------------------------------ data


def data_files(base: Path) -> None:
    df = pd.read_csv(base / "data" / "eval.csv").head(60)

    def csv(frame: pd.DataFrame) -> str:
        return frame.to_csv(index=False)

    add("data", "empty.csv", "", "could not be read")
    add("data", "header_only.csv", ",".join(df.columns) + "\n", "has no rows")
    add("data", "no_label.csv", csv(df.drop(columns="approved")), "label column 'approved'")
    missing = df.copy().astype({"approved": object})
    missing.loc[3, "approved"] = None
    add("data", "label_missing_values.csv", csv(missing), "missing value")
    three = df.copy()
    three.loc[:5, "approved"] = "maybe"
    add("data", "label_three_classes.csv", csv(three), "distinct values")
    add("data", "favorable_never.csv", csv(df.assign(approved="no")), "never occurs")
    add("data", "binary_garbage.csv", bytes(range(256)) * 4, "could not be read")
    add("data", "ragged.csv", "income,debt,age,sex,approved\n1,2,3,male,yes\n1,2,3,male,yes,extra,more\n",
        "could not be read")
    add("data", "unterminated_quote.csv", "income,debt,age,sex,approved\n1,2,3,\"male,yes\n", "could not be read")
    add("data", "no_sex.csv", csv(df.drop(columns="sex")), "protected attribute 'sex'")
    add("data", "all_male.csv", csv(df.assign(sex="male")), "unprivileged group is empty")
    add("data", "age_text.csv", csv(df.assign(age="old")), "not numeric")
    add("data", "model_column_renamed.csv", csv(df.rename(columns={"debt": "debts"})),
        "model expects columns missing from the data: debt")
    add("data", "gzip_garbage.csv.gz", b"\x1f\x8b\x08\x00garbage", "could not be read",
        replace=[["path: data/eval.csv", "path: data/eval.csv.gz"]], dest="data/eval.csv.gz")
    add("data", "corrupt.parquet", b"PAR1" + b"\x00" * 40 + b"PAR1", "could not be read",
        replace=[["path: data/eval.csv", "path: data/eval.parquet"]], dest="data/eval.parquet")
    add("data", "spreadsheet.xlsx", b"PK\x03\x04 not really a spreadsheet", "unsupported type",
        replace=[["path: data/eval.csv", "path: data/eval.xlsx"]], dest="data/eval.xlsx")
    no_model = [["model: {path: model.skops, format: skops}\n", ""],
                ["favorable_label: 'yes'}", "favorable_label: 'yes', prediction: pred}"]]
    add("data", "predictions_coded_01.csv", csv(df.assign(pred=np.arange(len(df)) % 2)), "holds values '0', '1'",
        replace=no_model)
    add("data", "predictions_extra_value.csv",
        csv(df.assign(pred=np.where(np.arange(len(df)) % 3 == 0, "maybe", df["approved"]))),
        "not labels", replace=no_model)
    pm = df.assign(pred=df["approved"]).astype({"pred": object})
    pm.loc[2, "pred"] = None
    add("data", "predictions_missing.csv", csv(pm), "missing value", replace=no_model)
    add("data", "predictions_bool_vs_text.csv", csv(df.assign(pred=np.arange(len(df)) % 2 == 0)),
        "holds values 'False', 'True'", replace=no_model)
    add("data", "score_out_of_range.csv", csv(df.assign(p=np.linspace(-1, 2, len(df)))), "between 0 and 1",
        replace=[["favorable_label: 'yes'}", "favorable_label: 'yes', score: p}"]])
    add("data", "score_text.csv", csv(df.assign(p="high")), "between 0 and 1",
        replace=[["favorable_label: 'yes'}", "favorable_label: 'yes', score: p}"]])
    # the model is scored on a few rows at load time: text in a numeric feature is one load error
    add("data", "income_text.csv", csv(df.assign(income="lots")), "cannot score the data's first rows")


# ------------------------------------------------------------------------------------------------ models


def models(base: Path) -> None:
    import joblib
    import lightgbm as lgb
    import skops.io as sio
    import xgboost as xgb
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from tests.conftest import make_synthetic

    good = (base / "model.skops").read_bytes()
    fmt = {"skops": "format: skops", "onnx": "format: onnx", "lightgbm": "format: lightgbm",
           "xgboost": "format: xgboost", "pickle": "format: pickle", "joblib": "format: joblib"}

    def model(name: str, content: bytes, expect: str, f: str, extra: list[list[str]] | None = None) -> None:
        add("model", name, content, expect, replace=[["path: model.skops, format: skops",
                                                      f"path: {name}, {fmt[f]}"], *(extra or [])])

    rng = np.random.default_rng(0)
    model("random.skops", rng.bytes(300), "not a readable skops file", "skops")
    model("empty.skops", b"", "not a readable skops file", "skops")
    model("truncated.skops", good[: len(good) // 2], "not a readable skops file", "skops")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("schema.json", "{not json")
    model("bad_schema.skops", buf.getvalue(), "not a readable skops file", "skops")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "no schema")
    model("no_schema.skops", buf.getvalue(), "not a readable skops file", "skops")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("schema.json", json.dumps({"__class__": "system", "__module__": "os",
                                               "__loader__": "ConstructorFromReduceNode", "content": {
                                                   "__class__": "tuple", "__module__": "builtins",
                                                   "__loader__": "TupleNode", "content": [], "__id__": 2},
                                               "__id__": 1, "protocol": 2, "_skops_version": "0.16.0"}))
    model("os_system.skops", buf.getvalue(), "not trusted", "skops")

    df = make_synthetic(120, seed=2)
    num = df[["income", "debt", "age"]]
    y = df["approved"]
    tmp = Path(tempfile.mkdtemp())
    try:
        sio.dump(LinearRegression().fit(num, (y == "yes").astype(float)), tmp / "m.skops")
        model("regressor.skops", (tmp / "m.skops").read_bytes(), "has no predict_proba", "skops")
        y3 = np.where(df["income"] > 60, "high", np.where(df["income"] > 45, "mid", "low"))
        sio.dump(LogisticRegression(max_iter=200).fit(num, y3), tmp / "m3.skops")
        model("multiclass.skops", (tmp / "m3.skops").read_bytes(), "3 classes", "skops")
        other = num.rename(columns={"income": "salary"})
        sio.dump(LogisticRegression().fit(other, y), tmp / "mo.skops")
        model("other_columns.skops", (tmp / "mo.skops").read_bytes(), "model expects columns missing", "skops")

        x32 = num.to_numpy(np.float32)
        onx = to_onnx(LogisticRegression().fit(x32, y), x32[:1], options={"zipmap": False})
        model("tensor3.onnx", onx.SerializeToString(), "hold text", "onnx")
        onx2 = to_onnx(LogisticRegression().fit(x32[:, :2], y), x32[:1, :2], options={"zipmap": False})
        model("tensor2.onnx", onx2.SerializeToString(), "takes 2 features", "onnx",
              [["favorable_label: 'yes'}", "favorable_label: 'yes', features: [income, debt, age]}"]])
        onx_zip = to_onnx(LogisticRegression().fit(x32, y), x32[:1])
        model("zipmap.onnx", onx_zip.SerializeToString(), "ZipMap", "onnx",
              [["favorable_label: 'yes'}", "favorable_label: 'yes', features: [income, debt, age]}"]])
        onx3 = to_onnx(LogisticRegression(max_iter=200).fit(x32, y3), x32[:1], options={"zipmap": False})
        model("multiclass.onnx", onx3.SerializeToString(), "3 classes", "onnx",
              [["favorable_label: 'yes'}", "favorable_label: 'yes', features: [income, debt, age]}"]])
        model("random.onnx", rng.bytes(200), "not a valid ONNX model", "onnx")
        model("empty.onnx", b"", "not a valid ONNX model", "onnx")
        model("truncated.onnx", onx.SerializeToString()[:150], "not a valid ONNX model", "onnx")
        model("text.onnx", b"this is not protobuf\n", "not a valid ONNX model", "onnx")

        booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4},
                            lgb.Dataset(num.rename(columns=lambda c: f"f_{c}"), (y == "yes").astype(int)),
                            num_boost_round=3)
        text = booster.model_to_string()
        model("garbage.lgb.txt", b"tree\nversion=v3\ngarbage\n", "not a LightGBM model file", "lightgbm")
        model("empty.lgb.txt", b"", "not a LightGBM model file", "lightgbm")
        model("truncated.lgb.txt", text[: len(text) // 3].encode(), "not a LightGBM model file", "lightgbm")
        model("random.lgb.txt", rng.bytes(400), "not a LightGBM model file", "lightgbm")
        model("other_columns.lgb.txt", text.encode(), "model expects columns missing", "lightgbm")

        dm = xgb.DMatrix(num.rename(columns=lambda c: f"x_{c}"), label=(y == "yes").astype(int))
        bst = xgb.train({"objective": "binary:logistic", "max_depth": 2}, dm, num_boost_round=2)
        bst.save_model(str(tmp / "m.json"))
        xj = (tmp / "m.json").read_bytes()
        model("empty_object.xgb.json", b"{}", "not an XGBoost model file", "xgboost")
        model("garbage.xgb.json", b"{\"learner\": 5}", "not an XGBoost model file", "xgboost")
        model("truncated.xgb.json", xj[: len(xj) // 2], "not an XGBoost model file", "xgboost")
        model("random.xgb.ubj", rng.bytes(300), "not an XGBoost model file", "xgboost")
        model("other_columns.xgb.json", xj, "model expects columns missing", "xgboost")

        joblib.dump(LogisticRegression(), tmp / "m.joblib")
        model("model.joblib", (tmp / "m.joblib").read_bytes(), "refusing to load", "joblib")
        model("model.pkl", b"\x80\x04K\x01.", "refusing to load", "pickle")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ MLmodel


def mlmodels() -> None:
    mlflow = [["path: model.skops, format: skops", "path: mlmodel, format: mlflow"]]
    good = "flavors:\n  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n"

    def ml(name: str, text: str | bytes, expect: str) -> None:
        add("mlmodel", name, text, expect, replace=mlflow)

    ml("empty.MLmodel", "", "no 'flavors'")
    ml("syntax.MLmodel", "flavors: [unclosed\n", "not valid YAML")
    ml("flavors_list.MLmodel", "flavors: [sklearn]\n", "no 'flavors'")
    ml("flavor_tensorflow.MLmodel", "flavors:\n  tensorflow: {}\n", "not supported")
    ml("flavor_string.MLmodel", "flavors:\n  sklearn: model.skops\n", "must be a mapping")
    ml("pickled_dotdot.MLmodel", "flavors:\n  sklearn: {pickled_model: ../../../etc/passwd}\n",
       "outside the bundle")
    ml("pickled_absolute.MLmodel", "flavors:\n  sklearn: {pickled_model: /etc/passwd}\n", "absolute")
    ml("pickled_int.MLmodel", "flavors:\n  sklearn: {pickled_model: 5}\n", "must be a file name")
    ml("cloudpickle.MLmodel", "flavors:\n  sklearn: {pickled_model: model.pkl}\n", "refusing to load")
    ml("onnx_missing.MLmodel", "flavors:\n  onnx: {data: nope.onnx}\n", "not a valid ONNX model")
    ml("signature_not_json.MLmodel", good + "signature:\n  inputs: '[{\"type\": '\n", "not valid JSON")
    ml("signature_unknown_type.MLmodel", good + "signature:\n  inputs: '[{\"name\": \"a\", \"type\": \"quux\"}]'\n",
       "unknown type 'quux'")
    ml("signature_mixed.MLmodel", good + "signature:\n  inputs: '[{\"name\": \"a\", \"type\": \"double\"}, "
       "{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\"}}]'\n", "mixes column specs")
    ml("signature_string.MLmodel", good + "signature: abc\n", "'signature' must be a mapping")
    ml("signature_item_scalar.MLmodel", good + "signature:\n  inputs: '[1, 2]'\n", "must be a mapping with a 'type'")
    ml("tensor_no_spec.MLmodel", good + "signature:\n  inputs: '[{\"type\": \"tensor\"}]'\n", "tensor-spec")
    ml("run_id_list.MLmodel", good + "run_id: [a, b]\n", "'run_id' must be a string")
    ml("timestamp_tag.MLmodel", good + "utc_time_created: !!timestamp 2024-99-99\n", "YAML tag")
    ml("billion_laughs.MLmodel", LAUGHS + good, "expands to more than")
    ml("latin1.MLmodel", (good + "run_id: caf\u00e9\n").encode("latin-1"), "not UTF-8")


# ------------------------------------------------------------------------------------------------ cards


def cards() -> None:
    lineage = "lineage: {sources: {model_card: README.md}}\n"

    def card(name: str, text: str | bytes, expect: str, openness: str | None = None) -> None:
        add("card", name, text, expect, append=lineage)
        if openness is not None:
            add("card-openness", name, text, openness)

    card("no_front_matter.md", "# A model\n\nNo metadata.\n", "no YAML front matter", "no YAML front matter")
    card("unterminated.md", "---\nlicense: mit\n# never closed\n", "no YAML front matter", "no YAML front matter")
    card("front_list.md", "---\n- a\n- b\n---\n", "must be a YAML mapping", "must be a YAML mapping")
    card("front_scalar.md", "---\njust text\n---\n", "must be a YAML mapping", "must be a YAML mapping")
    card("license_mapping.md", "---\nlicense: {id: mit}\n---\n", "'license' must be a string",
         "'license' must be a string")
    card("datasets_mapping.md", "---\nlicense: mit\ndatasets: {a: 1}\n---\n", "'datasets'")
    card("base_model_mapping.md", "---\nlicense: mit\nbase_model: {a: 1}\n---\n", "'base_model'")
    card("library_list.md", "---\nlicense: mit\nlibrary_name: [a, b]\n---\n", "'library_name' must be a string")
    card("syntax.md", "---\nlicense: [mit\n---\n", "not valid YAML", "not valid YAML")
    for tag, value in BAD_TAGS.items():
        card(f"tag_{tag}.md", f"---\nlicense: {value}\n---\n", TAG_EXPECT[tag], TAG_EXPECT[tag])
    card("billion_laughs.md", "---\n" + LAUGHS + "license: mit\n---\n", "expands to more than",
         "expands to more than")
    card("deep.md", "---\n" + DEEP + "---\n", "deeper than", "deeper than")
    card("latin1.md", "---\nlicense: mit\nmodel_name: caf\u00e9\n---\n".encode("latin-1"), "not UTF-8", "not UTF-8")
    card("empty.md", "", "no YAML front matter", "is empty")


# ------------------------------------------------------------------------------------------------ BOMs


def boms() -> None:
    def bom(name: str, content: Any, expect: str) -> None:
        text = content if isinstance(content, (str, bytes)) else json.dumps(content)
        add("bom", name, text, expect)

    ok = {"bomFormat": "CycloneDX", "specVersion": "1.6"}
    bom("not_json.cdx.json", "{bomFormat: CycloneDX", "not valid JSON")
    bom("empty.cdx.json", "", "not valid JSON")
    bom("array.cdx.json", [ok], "not a CycloneDX BOM")
    bom("spdx.cdx.json", {"bomFormat": "SPDX"}, "not a CycloneDX BOM")
    bom("components_object.cdx.json", {**ok, "components": {"a": 1}}, "'components' must be a list")
    bom("component_no_name.cdx.json", {**ok, "components": [{"type": "data"}]}, "needs 'type' and 'name'")
    bom("component_string.cdx.json", {**ok, "components": ["model"]}, "must be an object")
    bom("hash_no_content.cdx.json", {**ok, "components": [{"type": "data", "name": "d", "hashes": [{"alg": "SHA-256"}]}]},
        "need 'alg' and 'content'")
    bom("hashes_int.cdx.json", {**ok, "components": [{"type": "data", "name": "d", "hashes": 5}]}, "hashes")
    bom("licenses_object.cdx.json", {**ok, "components": [{"type": "data", "name": "d", "licenses": {"id": "MIT"}}]},
        "licenses must be a list")
    bom("licenses_strings.cdx.json", {**ok, "components": [{"type": "data", "name": "d", "licenses": ["MIT"]}]},
        "entries must be objects")
    bom("ancestors_int.cdx.json", {**ok, "components": [{"type": "machine-learning-model", "name": "m",
                                                         "pedigree": {"ancestors": 3}}]}, "ancestors")
    bom("model_parameters_list.cdx.json", {**ok, "components": [{"type": "machine-learning-model", "name": "m",
                                                                 "modelCard": {"modelParameters": [1]}}]},
        "modelParameters")
    bom("datasets_int.cdx.json", {**ok, "components": [{"type": "machine-learning-model", "name": "m",
                                                        "modelCard": {"modelParameters": {"datasets": 7}}}]},
        "datasets")
    bom("properties_int.cdx.json", {**ok, "components": [{"type": "data", "name": "d", "properties": 1}]},
        "properties")
    bom("metadata_component_list.cdx.json", {**ok, "metadata": {"component": [1]}}, "must be an object")
    bom("deep.cdx.json", "[" * 5_000 + "]" * 5_000, "too deeply")
    bom("latin1.cdx.json", json.dumps({**ok, "x": "caf\u00e9"}, ensure_ascii=False).encode("latin-1"), "not UTF-8")
    bom("nested_components_bad.cdx.json", {**ok, "components": [{"type": "data", "name": "d",
                                                                 "components": [5]}]}, "must be an object")


# ------------------------------------------------------------------------------------------------ rubrics


def rubrics() -> None:
    head = "rubric: 1\nname: bad\n"

    def rub(name: str, text: str | bytes, expect: str, gate: bool = False) -> None:
        add("rubric", name, text, expect)
        if gate:
            add("rubric-gate", name, text, expect)

    rub("empty.yaml", "", "must be a YAML mapping")
    rub("list.yaml", "- rubric: 1\n", "must be a YAML mapping", gate=True)
    rub("syntax.yaml", "rubric: 1\nname: [x\n", "not valid YAML", gate=True)
    rub("version_2.yaml", "rubric: 2\nname: x\n", "rubric")
    rub("no_name.yaml", "rubric: 1\n", "name")
    rub("unknown_key.yaml", head + "chekcs: {}\n", "chekcs")
    rub("checks_list.yaml", head + "checks: [fairness.model]\n", "'checks' must map", gate=True)
    rub("policy_string.yaml", head + "checks: {fairness.model: strict}\n", "must be a mapping")
    rub("params_list.yaml", head + "checks: {fairness.model: {params: [1]}}\n", "params must be a mapping")
    rub("conditions_mapping.yaml", head + "checks: {fairness.model: {conditions: {metric: x}}}\n",
        "conditions must be a list", gate=True)
    rub("condition_op.yaml", head + "checks: {fairness.model: {conditions: [{metric: x, op: '=~', value: 1}]}}\n",
        "op")
    rub("condition_no_metric.yaml", head + "checks: {fairness.model: {conditions: [{op: '>=', value: 1}]}}\n",
        "metric")
    rub("condition_value_text.yaml",
        head + "checks: {fairness.model: {conditions: [{metric: x, op: '>=', value: high}]}}\n", "value", gate=True)
    rub("condition_severity.yaml",
        head + "checks: {fairness.model: {conditions: [{metric: x, op: '>=', value: 1, severity: fatal}]}}\n",
        "severity")
    rub("condition_string.yaml", head + "checks: {fairness.model: {conditions: [x]}}\n", "conditions")
    rub("enabled_text.yaml", head + "checks: {fairness.model: {enabled: maybe}}\n", "enabled")
    rub("extends_missing.yaml", head + "extends: no-such-parent.yaml\n", "not found", gate=True)
    rub("extends_mapping.yaml", head + "extends: {a: 1}\n", "is not a rubric")
    rub("extends_self.yaml", head + "extends: extends_self.yaml\n", "too deep")
    rub("run_string.yaml", head + "run: 5\n", "run")
    rub("correction.yaml", head + "baseline_correction: holm\n", "baseline_correction")
    for tag, value in BAD_TAGS.items():
        rub(f"tag_{tag}.yaml", f"rubric: 1\nname: {value}\n", TAG_EXPECT[tag])
    rub("billion_laughs.yaml", LAUGHS + head, "expands to more than", gate=True)
    rub("deep.yaml", head + DEEP, "deeper than")
    rub("latin1.yaml", (head + "description: caf\u00e9\n").encode("latin-1"), "not UTF-8")


# ------------------------------------------------------------------------------------------------ openness


def openness() -> None:
    def mot(name: str, text: str | bytes, expect: str) -> None:
        add("openness", name, text, expect)

    rel = "release:\n  name: m\n  components:\n"
    mot("empty.yml", "", "is empty")
    mot("scalar.yml", "just text\n", "must be a YAML mapping")
    mot("no_release.yml", "framework: {name: x}\nmodel: y\n", "no 'release' section")
    mot("components_mapping.yml", "release:\n  name: m\n  components: {name: Model parameters (Final)}\n",
        "components")
    mot("component_string.yml", rel + "    - Model architecture\n", "must be a mapping with 'name'")
    mot("component_unknown.yml", rel + "    - {name: Model weights, license: MIT}\n", "unknown component")
    mot("component_license_list.yml", rel + "    - {name: Model architecture, license: [MIT, Apache-2.0]}\n",
        "SPDX expression")
    mot("component_license_mapping.yml", rel + "    - {name: Model architecture, license: {id: MIT}}\n", "license")
    mot("release_list.yml", "release: [a, b]\n", "release")
    mot("framework_string.yml", "framework: MOF\n" + rel + "    - {name: Model architecture, license: MIT}\n",
        "framework")
    mot("syntax.yml", "release:\n  name: [m\n", "not valid YAML")
    mot("int_keys.yml", "1: a\n2: b\n", "no 'release' section")
    mot("merge_scalar.yml", "release:\n  <<: 1\n", "not valid YAML")
    for tag, value in BAD_TAGS.items():
        mot(f"tag_{tag}.yml", f"release:\n  name: {value}\n  components: []\n", TAG_EXPECT[tag])
    mot("billion_laughs.yml", LAUGHS + "release: {name: m, components: []}\n", "expands to more than")
    mot("deep.yml", "release: " + "[" * 100 + "]" * 100 + "\n", "deeper than")
    mot("many_aliases.yml", MANY_ALIASES + "release: {name: m, components: []}\n", "aliases")
    mot("latin1.yml", "release:\n  name: caf\u00e9\n".encode("latin-1"), "not UTF-8")
    mot("nul.yml", "release:\n  name: a\x00b\n", "not valid YAML")
    add("openness", "manifest_openness_list/trustaudit.yaml", BASE_MANIFEST + "openness: [a]\n",
        "must be a mapping")
    add("openness", "manifest_no_openness/trustaudit.yaml", BASE_MANIFEST, "no 'openness' section")


# ------------------------------------------------------------------------------------------------ reports


def reports(report: dict[str, Any]) -> None:
    text = json.dumps(report)

    def rep(name: str, content: Any, expect: str) -> None:
        data = content if isinstance(content, (str, bytes)) else json.dumps(content)
        add("report", name, data, expect)
        add("report-render", name, data, expect)

    rep("empty.json", "", "not a trustaudit report")
    rep("not_json.json", "{report", "not a trustaudit report")
    rep("array.json", [report], "not a trustaudit report")
    rep("object_empty.json", {}, "not a trustaudit report")
    rep("truncated.json", text[: len(text) // 2], "not a trustaudit report")
    bad = json.loads(text)
    bad["checks"][0]["status"] = "exploded"
    rep("status_unknown.json", bad, "status")
    bad = json.loads(text)
    bad["checks"] = {"a": 1}
    rep("checks_object.json", bad, "checks")
    bad = json.loads(text)
    bad["checks"][0]["metrics"] = [{"name": "x", "value": "high"}]
    rep("metric_text.json", bad, "not a trustaudit report")
    bad = json.loads(text)
    bad["verdict"] = 7
    rep("verdict_int.json", bad, "verdict")
    bad = json.loads(text)
    del bad["bundle"]
    rep("no_bundle.json", bad, "bundle")
    bad = json.loads(text)
    bad["seed"] = "zero"
    rep("seed_text.json", bad, "seed")
    rep("deep.json", "[" * 5_000 + "]" * 5_000, "not a trustaudit report")
    rep("latin1.json", text.replace("corpus", "corp\u00fcs").encode("latin-1"), "not a trustaudit report")
    rep("yaml.json", "report: yes\n", "not a trustaudit report")
    rep("nan.json", text.replace('"seed": 0', '"seed": NaN'), "seed")
    bad = json.loads(text)
    bad["checks"][0]["tables"] = "x"
    rep("tables_string.json", bad, "tables")


# ------------------------------------------------------------------------------------------------ archives


def archives(base: Path) -> None:
    def tar(name: str, members: list[tuple[tarfile.TarInfo, bytes | None]], expect: str, gz: bool = True) -> None:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
            for info, data in members:
                if data is not None:
                    info.size = len(data)
                tf.addfile(info, io.BytesIO(data) if data is not None else None)
        add("archive", name, buf.getvalue(), expect)

    def file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
        return tarfile.TarInfo(name), data

    def link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        return info, None

    manifest = BASE_MANIFEST.encode()
    add("archive", "empty.tar.gz", b"", "empty")
    add("archive", "random.tar.gz", np.random.default_rng(1).bytes(500), "malformed")
    tar("dotdot.tar.gz", [file("../evil.txt", b"x"), file("trustaudit.yaml", manifest)], "unsafe-path")
    tar("absolute.tar.gz", [file("/tmp/evil.txt", b"x")], "unsafe-path")
    tar("symlink.tar.gz", [file("trustaudit.yaml", manifest), link("data", "/etc", tarfile.SYMTYPE)], "link-member")
    tar("hardlink.tar.gz", [file("trustaudit.yaml", manifest), link("x", "/etc/passwd", tarfile.LNKTYPE)],
        "link-member")
    dev = tarfile.TarInfo("dev")
    dev.type = tarfile.CHRTYPE
    tar("chardev.tar.gz", [file("trustaudit.yaml", manifest), (dev, None)], "special-member")
    tar("no_manifest.tar.gz", [file("data/eval.csv", b"a,b\n1,2\n")], "invalid-bundle")
    tar("two_tops.tar.gz", [file("a/trustaudit.yaml", manifest), file("b/x.txt", b"x")], "invalid-bundle")
    tar("bad_manifest.tar.gz", [file("trustaudit.yaml", LAUGHS.encode() + manifest)], "invalid-bundle")
    tar("missing_data.tar.gz", [file("trustaudit.yaml", manifest)], "invalid-bundle")
    tar("plain.tar", [file("trustaudit.yaml", b"trustaudit: [\n")], "invalid-bundle", gz=False)
    whole = io.BytesIO()
    with tarfile.open(fileobj=whole, mode="w:gz") as tf:
        for p in sorted(base.rglob("*")):
            if p.is_file():
                tf.add(p, arcname=str(p.relative_to(base)))
    add("archive", "truncated.tar.gz", whole.getvalue()[: len(whole.getvalue()) // 2], "malformed")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("../evil.txt", "x")
    add("archive", "dotdot.zip", zbuf.getvalue(), "unsafe-path")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("trustaudit.yaml", manifest)
        zf.writestr("zeros.bin", b"\x00" * (8 * 1024 * 1024))
    add("archive", "bomb.zip", zbuf.getvalue(), "archive-bomb")
    add("archive", "truncated.zip", zbuf.getvalue()[: len(zbuf.getvalue()) // 2], "malformed")
    add("archive", "gzip_of_garbage.tar.gz", gzip.compress(b"not a tar file at all" * 20), "malformed")


def seed_report(base: Path) -> dict[str, Any]:
    from trustaudit.api import audit

    out = Path(tempfile.mkdtemp())
    try:
        rep = audit(base, checks=["fairness.dataset"], out_dir=out, seed=0,
                    params={"fairness.dataset": {"bootstrap": 20}})
        data: dict[str, Any] = json.loads(rep.to_json().replace(str(base), "corpus"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return data


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp())
    try:
        base = make_base_bundle(tmp / "base")
        report = seed_report(base)
        (CORPUS / "seeds").mkdir()
        (CORPUS / "seeds" / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        manifests()
        data_files(base)
        models(base)
        mlmodels()
        cards()
        boms()
        rubrics()
        openness()
        reports(report)
        archives(base)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    header = ("# Bad-input corpus: one entry per case (generated by tests/hardening/make_corpus.py; do not edit).\n"
              "# kind: where the file goes and which command reads it (tests/hardening/test_corpus.py);\n"
              "# expect: a fragment of the one-line error (or the check recorded as error for *-audit).\n")
    INDEX.write_text(header + yaml.safe_dump(CASES, sort_keys=False, width=120, allow_unicode=True))
    files = {c["file"] for c in CASES}
    print(f"{len(CASES)} cases, {len(files)} files under {CORPUS}")


if __name__ == "__main__":
    main()
