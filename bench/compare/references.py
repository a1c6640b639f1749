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
    ap.add_argument("--tune", action="store_true",
                    help="also fit every reference over a small grid and keep the one with the best validation AUC")
    ap.add_argument("--speed", type=int, default=0,
                    help="only time XGBoost for this many rounds (no early stopping) at matched settings, then exit")
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

    if a.speed:
        speed(a, Xtr, ytr, timed)
        return

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

    if not a.tune:
        return
    # The same selection protocol for every model, ours included (see
    # bank/main.go): a small grid of regularisation settings, each fitted on
    # train with early stopping on valid; keep the best valid AUC.
    # Grid points are fitted once each (their fit time is one run).
    leaves_grid = [4, 7, 15, 31]

    def timed(fit):
        t = time.perf_counter()
        out = fit()
        return out, time.perf_counter() - t
    if "logreg" not in skip:
        def fit_lr(g):
            pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), cat),
                                     ("num", StandardScaler(), num)])
            m = make_pipeline(pre, LogisticRegression(max_iter=3000, C=g["C"]))
            _, secs = timed(lambda: m.fit(Xtr, ytr))
            return m.predict_proba(Xva)[:, 1], m.predict_proba(Xte)[:, 1], secs, {}
        tuned("sklearn LogisticRegression", [dict(C=c) for c in (0.01, 0.1, 1.0, 10.0)], fit_lr, yva, yte)
    if "xgboost" not in skip:
        def fit_xgb_g(g):
            params = dict(objective="binary:logistic", eval_metric=g["es"], tree_method="hist", nthread=2,
                          eta=rates[0], grow_policy="lossguide", max_leaves=g["leaves"], max_depth=0,
                          max_bin=255, reg_lambda=g["lambda"], max_cat_to_onehot=4, seed=1)
            def fit():
                dtr = xgb.DMatrix(Xtr, ytr, enable_categorical=True, nthread=2)
                dva = xgb.DMatrix(Xva, yva, enable_categorical=True, nthread=2)
                return xgb.train(params, dtr, a.max_iter, evals=[(dva, "valid")],
                                 early_stopping_rounds=a.patience, verbose_eval=False)
            bst, secs = timed(fit)
            it = (0, bst.best_iteration + 1)
            dva = xgb.DMatrix(Xva, enable_categorical=True, nthread=2)
            return (bst.predict(dva, iteration_range=it), bst.predict(dte, iteration_range=it), secs,
                    dict(trees=bst.best_iteration + 1, rounds=bst.num_boosted_rounds()))
        grid = [dict(leaves=l, **{"lambda": lam}, es=es) for l in leaves_grid for lam in (1.0, 10.0) for es in ("logloss", "auc")]
        tuned(f"XGBoost {xgb.__version__} hist, nthread=2, eta={rates[0]}", grid, fit_xgb_g, yva, yte)
    if "hgb" not in skip:
        def fit_hgb(g):
            m = HistGradientBoostingClassifier(learning_rate=rates[0], max_leaf_nodes=g["leaves"], min_samples_leaf=20,
                                               l2_regularization=g["l2"], max_bins=255, max_iter=a.max_iter,
                                               categorical_features=catmask, early_stopping=True,
                                               validation_fraction=0.1, n_iter_no_change=a.patience,
                                               scoring="loss", random_state=1)
            _, secs = timed(lambda: m.fit(Etr, ytr))
            return (m.predict_proba(enc(Xva))[:, 1], m.predict_proba(enc(Xte))[:, 1], secs,
                    dict(trees=int(m.n_iter_), rounds=int(m.n_iter_)))
        grid = [dict(leaves=l, l2=lam) for l in leaves_grid for lam in (1.0, 10.0)]
        tuned(f"sklearn HistGradientBoosting {sklearn.__version__} (internal ES)", grid, fit_hgb, yva, yte)


def speed(a, Xtr, ytr, timed):
    """Fixed-round fits at the settings of our speed rows: one line each, no scores."""
    configs = [("leaves", dict(grow_policy="lossguide", max_leaves=a.leaves, max_depth=0)),
               ("depth6", dict(max_depth=6))]
    for name, extra in configs:
        params = dict(objective="binary:logistic", tree_method="hist", nthread=2, eta=0.1, max_bin=256,
                      reg_lambda=1.0, max_cat_to_onehot=4, seed=1, **extra)
        dm, dsecs = timed(lambda: xgb.DMatrix(Xtr, ytr, enable_categorical=True, nthread=2))
        bst, secs = timed(lambda: xgb.train(params, dm, a.speed))
        leaves = sum(t.count("leaf=") for t in bst.get_dump())
        print(json.dumps(dict(model="speed-xgb-" + name, fit_seconds=secs, dmatrix_seconds=dsecs, leaves=leaves,
                              rounds=a.speed, omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "default"))), flush=True)


def tuned(name, grid, fit, yva, yte):
    """Fit every grid point, keep the best validation AUC and score it on test.

    fit(setting) returns (valid probabilities, test probabilities, seconds,
    extra fields). The test rows never influence the choice."""
    best = None
    for g in grid:
        pv, pt, secs, extra = fit(g)
        v = roc_auc_score(yva, pv)
        if best is None or v > best[0]:
            best = (v, g, pt, secs, extra)
    v, g, pt, secs, extra = best
    desc = ", ".join(f"{k}={x}" for k, x in g.items())
    score(f"{name}, tuned: best valid AUC ({v:.4f}) of {len(grid)} settings: {desc}", yte, pt, secs,
          valid_auc=v, tuned=True, **extra)


if __name__ == "__main__":
    main()
