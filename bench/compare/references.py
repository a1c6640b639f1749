#!/usr/bin/python3
"""Reference models for the engage GBDT comparison.

Reads train.csv / valid.csv / test.csv from --dir (written by
`go run ./bench/compare/bank`), fits scikit-learn LogisticRegression,
XGBoost (tree_method=hist, nthread=2; one row per --lr at our leaf cap,
plus XGBoost's own defaults) and scikit-learn
HistGradientBoostingClassifier on train (valid only for early stopping), and
scores every model on test -- including any prediction files passed with
--pred NAME=FILE (one probability per line, in test order), so that every AUC
in the table comes from the same sklearn.metrics code.

Prints one JSON object per model on stdout. Run with /usr/bin/python3 (Debian
python3-sklearn, python3-xgboost, python3-pandas).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TARGET = "y"


def load(d):
    parts = {k: pd.read_csv(os.path.join(d, k + ".csv")) for k in ("train", "valid", "test")}
    cat = [c for c in parts["train"].columns if c != TARGET and parts["train"][c].dtype == object]
    num = [c for c in parts["train"].columns if c != TARGET and c not in cat]
    # One fixed level list per categorical, shared by every part, so codes agree.
    for c in cat:
        levels = sorted(set().union(*(set(p[c].dropna().unique()) for p in parts.values())))
        for p in parts.values():
            p[c] = pd.Categorical(p[c], categories=levels)
    return parts, cat, num


def xy(p):
    return p.drop(columns=[TARGET]), p[TARGET].to_numpy()


def score(name, y, prob, seconds, **extra):
    prob = np.clip(np.asarray(prob, dtype=float), 1e-15, 1 - 1e-15)
    out = dict(model=name, auc=roc_auc_score(y, prob), pr_auc=average_precision_score(y, prob),
               logloss=log_loss(y, prob), fit_seconds=seconds)
    out.update(extra)
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--pred", action="append", default=[], help="NAME=FILE of test probabilities")
    ap.add_argument("--lr", default="0.1,0.05",
                    help="comma-separated learning rates: one matched XGBoost row each; HGB uses the first")
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--patience", type=int, default=50)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--skip", default="", help="comma-separated reference names to skip")
    ap.add_argument("--repeat", type=int, default=1, help="fit each model this many times, report the fastest")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    rates = [float(x) for x in a.lr.split(",") if x]
    parts, cat, num = load(a.dir)

    def timed(fit):
        """Run fit() a.repeat times; return the last result and the fastest time."""
        best, out = float("inf"), None
        for _ in range(max(1, a.repeat)):
            t = time.perf_counter()
            out = fit()
            best = min(best, time.perf_counter() - t)
        return out, best

    Xtr, ytr = xy(parts["train"])
    Xva, yva = xy(parts["valid"])
    Xte, yte = xy(parts["test"])

    for spec in a.pred:
        name, path = spec.split("=", 1)
        prob = np.loadtxt(path, ndmin=1)
        if len(prob) != len(yte):
            sys.exit(f"{path}: {len(prob)} predictions for {len(yte)} test rows")
        score(name, yte, prob, None)

    if "logreg" not in skip:
        # One-hot categoricals, standardised numerics, default C=1 (L2), lbfgs.
        pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), cat),
                                 ("num", StandardScaler(), num)])
        lr = make_pipeline(pre, LogisticRegression(max_iter=2000))
        _, secs = timed(lambda: lr.fit(Xtr, ytr))
        score(f"sklearn LogisticRegression {sklearn.__version__} (one-hot, C=1)", yte, lr.predict_proba(Xte)[:, 1], secs)

    if "xgboost" not in skip:
        # Same budget as ours: same learning rate, leaf cap, leaf-wise growth,
        # native categoricals, early stopping on the same validation rows.
        def fit_xgb():
            dtr = xgb.DMatrix(Xtr, ytr, enable_categorical=True, nthread=2)
            dva = xgb.DMatrix(Xva, yva, enable_categorical=True, nthread=2)
            return xgb.train(params, dtr, a.max_iter, evals=[(dva, "valid")],
                             early_stopping_rounds=a.patience, verbose_eval=False)
        dte = xgb.DMatrix(Xte, enable_categorical=True, nthread=2)
        for lr in rates:
            params = dict(objective="binary:logistic", eval_metric="logloss", tree_method="hist", nthread=2,
                          eta=lr, grow_policy="lossguide", max_leaves=a.leaves, max_depth=0,
                          max_bin=255, reg_lambda=1.0, max_cat_to_onehot=4, seed=1)
            bst, secs = timed(fit_xgb)
            prob = bst.predict(dte, iteration_range=(0, bst.best_iteration + 1))
            score(f"XGBoost {xgb.__version__} hist, nthread=2, eta={lr}, {a.leaves} leaves", yte, prob, secs,
                  trees=bst.best_iteration + 1, rounds=bst.num_boosted_rounds())

        # XGBoost's own defaults (eta 0.3, depth 6), same early stopping.
        params = dict(objective="binary:logistic", eval_metric="logloss", tree_method="hist", nthread=2,
                      max_cat_to_onehot=4, seed=1)
        bst, secs = timed(fit_xgb)
        prob = bst.predict(dte, iteration_range=(0, bst.best_iteration + 1))
        score(f"XGBoost {xgb.__version__} hist, nthread=2, defaults (eta 0.3, depth 6)", yte, prob, secs,
              trees=bst.best_iteration + 1, rounds=bst.num_boosted_rounds())

    if "hgb" not in skip:
        # sklearn 1.2 HGB cannot take an external validation set: it early-stops
        # on its own random 10% of train with the same patience.
        catmask = [c in cat for c in Xtr.columns]
        enc = lambda X: X.apply(lambda s: s.cat.codes.replace(-1, np.nan) if s.name in cat else s)
        hgb = HistGradientBoostingClassifier(learning_rate=rates[0], max_leaf_nodes=a.leaves, min_samples_leaf=20,
                                             l2_regularization=1.0, max_bins=255, max_iter=a.max_iter,
                                             categorical_features=catmask, early_stopping=True,
                                             validation_fraction=0.1, n_iter_no_change=a.patience,
                                             scoring="loss", random_state=1)
        Etr = enc(Xtr)
        _, secs = timed(lambda: hgb.fit(Etr, ytr))
        score(f"sklearn HistGradientBoosting {sklearn.__version__} (native cat., internal ES)", yte,
              hgb.predict_proba(enc(Xte))[:, 1], secs, trees=int(hgb.n_iter_), rounds=int(hgb.n_iter_))


if __name__ == "__main__":
    main()
