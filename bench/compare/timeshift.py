#!/usr/bin/python3
"""Why trees lose to logistic regression on the bank-marketing time split.

Diagnostics only, never used to choose a model. Reads the time split written by
`go run ./bench/compare/bank -keep DIR` (DIR/time/{train,valid,test}.csv) and
prints, as Markdown:
  1. covariate and base-rate shift between the fit, validation and test rows;
  2. test AUC of sklearn LogisticRegression and XGBoost (hist, 31 leaves,
     early stopping on valid) overall and within groups: within a month, and
     for clients contacted before (pdays > 0) or not;
  3. XGBoost restricted to additive trees (depth 1) and depth 2/3, to see
     whether interactions or the per-feature step functions fail to transfer;
  4. both models refitted on fit + validation rows with the same settings
     (rounds from early stopping), to see how stable the gap is.

Usage: /usr/bin/python3 bench/compare/timeshift.py DIR/time
"""
import sys
import warnings

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score as auc
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

warnings.filterwarnings("ignore")
d = sys.argv[1]
P = {k: pd.read_csv(f"{d}/{k}.csv") for k in ("train", "valid", "test")}
cat = [c for c in P["train"].columns if c != "y" and P["train"][c].dtype == object]
for c in cat:
    lv = sorted(set().union(*(set(p[c].unique()) for p in P.values())))
    for p in P.values():
        p[c] = pd.Categorical(p[c], categories=lv)
X = {k: p.drop(columns=["y"]) for k, p in P.items()}
Y = {k: p.y.to_numpy() for k, p in P.items()}
num = [c for c in X["train"].columns if c not in cat]


def logreg():
    pre = ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), cat), ("n", StandardScaler(), num)])
    return make_pipeline(pre, LogisticRegression(max_iter=3000))


def boost(Xf, yf, rounds=None, **kw):
    par = dict(objective="binary:logistic", eval_metric="logloss", tree_method="hist", nthread=2, eta=0.1,
               grow_policy="lossguide", max_leaves=31, max_depth=0, max_cat_to_onehot=4, seed=1)
    par.update(kw)
    dtr = xgb.DMatrix(Xf, yf, enable_categorical=True)
    if rounds:
        return xgb.train(par, dtr, rounds), rounds
    dva = xgb.DMatrix(X["valid"], Y["valid"], enable_categorical=True)
    b = xgb.train(par, dtr, 3000, evals=[(dva, "v")], early_stopping_rounds=50, verbose_eval=False)
    return b, b.best_iteration + 1


def pred(b, n, k):
    return b.predict(xgb.DMatrix(X[k], enable_categorical=True), iteration_range=(0, n))


print("### 1. Shift between fit, validation and test rows\n")
print("| rows | n | positive rate | contact unknown | pdays > 0 (contacted before) | poutcome = success | mean campaign | months (top 4) |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for k, p in P.items():
    months = ", ".join(f"{m} {v:.2f}" for m, v in p.month.value_counts(normalize=True).head(4).items())
    print(f"| {k} | {len(p)} | {p.y.mean():.3f} | {(p.contact == 'unknown').mean():.2f} | {(p.pdays > 0).mean():.2f} | "
          f"{(p.poutcome == 'success').mean():.3f} | {p.campaign.mean():.2f} | {months} |")

lr = logreg().fit(X["train"], Y["train"])
b, n = boost(X["train"], Y["train"])
T = P["test"].assign(lr=lr.predict_proba(X["test"])[:, 1], xgb=pred(b, n, "test"))
print(f"\n### 2. Test AUC within groups (XGBoost 31 leaves, {n} trees)\n")
print("| group | test rows | positive rate | LR AUC | XGBoost AUC |\n|---|---:|---:|---:|---:|")
print(f"| all | {len(T)} | {T.y.mean():.3f} | {auc(T.y, T.lr):.4f} | {auc(T.y, T.xgb):.4f} |")
groups = [("contacted before" if g else "not contacted before", t) for g, t in T.groupby(T.pdays > 0)]
groups += [(f"month = {m}", t) for m, t in T.groupby("month") if len(t) >= 200 and 0 < t.y.mean() < 1]
for name, t in groups:
    print(f"| {name} | {len(t)} | {t.y.mean():.3f} | {auc(t.y, t.lr):.4f} | {auc(t.y, t.xgb):.4f} |")
months_fit = P["train"].month.value_counts()
unseen = [m for m in P["test"].month.unique() if months_fit.get(m, 0) == 0]
print(f"\nMonths in test with no fit rows: {', '.join(map(str, unseen)) or 'none'}.")

print("\n### 3. Depth-limited XGBoost (early stopping on valid, log-loss)\n")
print("| trees | depth | valid AUC | test AUC |\n|---|---:|---:|---:|")
print(f"| {n} | 31 leaves | {auc(Y['valid'], pred(b, n, 'valid')):.4f} | {auc(Y['test'], pred(b, n, 'test')):.4f} |")
for depth in (1, 2, 3):
    bd, nd = boost(X["train"], Y["train"], grow_policy="depthwise", max_leaves=0, max_depth=depth)
    print(f"| {nd} | {depth} | {auc(Y['valid'], pred(bd, nd, 'valid')):.4f} | {auc(Y['test'], pred(bd, nd, 'test')):.4f} |")

print("\n### 4. Refit on fit + validation rows (same settings; XGBoost keeps its early-stopped round count)\n")
XA = pd.concat([X["train"], X["valid"]])
YA = np.concatenate([Y["train"], Y["valid"]])
lr2 = logreg().fit(XA, YA)
b2, _ = boost(XA, YA, rounds=n)
print("| model | test AUC, fit rows only | test AUC, refit on fit + valid |\n|---|---:|---:|")
print(f"| sklearn LogisticRegression | {auc(T.y, T.lr):.4f} | {auc(Y['test'], lr2.predict_proba(X['test'])[:, 1]):.4f} |")
print(f"| XGBoost 31 leaves, {n} trees | {auc(T.y, T.xgb):.4f} | {auc(Y['test'], pred(b2, n, 'test')):.4f} |")
