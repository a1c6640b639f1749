// Package uplift estimates the effect of each action against a control arm:
// tau_a(x) = E[y | x, arm a] - E[y | x, control]. It is how engage decides
// whether contacting a debtor (and with which message) changes the outcome, as
// opposed to predicting who pays anyway.
//
// Two meta-learners are provided over a base learner declared here (Learner),
// so any model family can be plugged in:
//
//   - T-learner (FitT): one outcome model per arm; the effect is the difference
//     of their predictions.
//   - X-learner (FitX, Künzel et al. 2019): outcome models per arm, then effect
//     models fitted on imputed effects (treated rows: y - mu_0(x); control rows:
//     mu_a(x) - y), blended with the propensity g_a(x) of arm a against control:
//     tau_a(x) = g_a(x)*tau0_a(x) + (1-g_a(x))*tau1_a(x). The propensity is a
//     fitted model or, for a randomised experiment, the constant share of arm a
//     among the rows in arm a or control.
//
// Adapters: LinearClassifier / LinearRegressor (models/linear) and
// GBDTClassifier (models/gbdt; classification only, so with the X-learner use
// it for the outcome stage and a regressor for the effect stage).
//
// A fitted Model saves to JSON (json.Marshal) and loads with Load, given a
// table of decoders keyed by family name (DefaultDecoders covers the families
// above); predictions after loading are bit-identical.
package uplift
