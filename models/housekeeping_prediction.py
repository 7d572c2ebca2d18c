"""Probabilistic customer-base models for non-contractual repeat business.

* BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
  while alive, a customer visits as a Poisson process of rate λ ~ Gamma(r, α);
  after each visit they drop out with probability p ~ Beta(a, b). From a
  customer's frequency (repeat visits), recency (time of the last visit since the
  first) and age (time since the first visit) it gives the probability that
  they are still a customer and their expected visits over a coming period.
* Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and customer lifetime value"):
  the mean value of a customer's visits, from their repeat visits' mean amount.

The functions of this module work on numpy arrays, in log space
(``gammaln``/``betaln``), and fit by maximum likelihood with a bounded
optimisation on the log-parameters; ``housekeeping.prediction`` is their Odoo
entry point (checked input, translated errors), ``housekeeping.prediction.fit``
records each nightly fit of the prediction engine
(``models/engines/prediction.py``).
"""

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

# log-parameters are kept within these bounds (e^±15: 3e-7 … 3e6 on the data's scale)
LOG_BOUND = 15.0


class FitError(Exception):
    """The optimiser found no finite maximum of the likelihood."""


# ---------------------------------------------------------------------- BG/NBD
def bgnbd_log_likelihood(params, x, t_x, age, gradient=False):
    """Each customer's BG/NBD log-likelihood (equation 6 of the paper, in logs);
    with ``gradient``, also its derivatives by r, α, a and b (rows of a 4 × n
    array), which spare the optimiser its finite differences (5 likelihoods per
    step)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + age)
    repeat = x > 0
    a4 = np.full_like(a3, -np.inf)
    a4[repeat] = (
        np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    total = np.logaddexp(a3, a4)
    log_likelihood = a1 + a2 + total
    if not gradient:
        return log_likelihood
    # the shares of the two terms of the sum (the second is 0 without repeat)
    w4 = np.exp(a4 - total)
    w3 = 1.0 - w4
    drop = np.zeros_like(x)
    drop[repeat] = w4[repeat] / (b + x[repeat] - 1)
    shared = digamma(a + b) - digamma(a + b + x)
    grad = np.empty((4, len(x)))
    grad[0] = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - w3 * np.log(alpha + age)
        - w4 * np.log(alpha + t_x)
    )
    grad[1] = r / alpha - (r + x) * (w3 / (alpha + age) + w4 / (alpha + t_x))
    grad[2] = shared + w4 / a
    grad[3] = digamma(b + x) - digamma(b) + shared - drop
    return log_likelihood, grad


def _log_odds_dead(params, x, t_x, age):
    """log(a / (b + x - 1) · ((α + T) / (α + t_x))^(r + x)) for repeat customers,
    -inf for the others (who cannot have dropped out: BG/NBD lets a customer
    drop out only just after a visit)."""
    r, alpha, a, b = params
    out = np.full(x.shape, -np.inf)
    repeat = x > 0
    xr = x[repeat]
    out[repeat] = (
        np.log(a)
        - np.log(b + xr - 1)
        + (r + xr) * (np.log(alpha + age[repeat]) - np.log(alpha + t_x[repeat]))
    )
    return out


def _customer_arrays(*values):
    """The customers' figures as float arrays of one shape (scalars accepted)."""
    return [np.array(array, dtype=float) for array in np.broadcast_arrays(*values)]


def bgnbd_probability_alive(params, x, t_x, age):
    """P(still a customer | x, t_x, T) (equation 13 of the paper)."""
    x, t_x, age = _customer_arrays(x, t_x, age)
    return expit(-_log_odds_dead(params, x, t_x, age))


def bgnbd_expected_visits(params, horizon, x, t_x, age):
    """E[visits in (T, T + horizon] | x, t_x, T] (equation 10 of the paper).

    The hypergeometric term is taken after Euler's transformation,
    ``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``,
    which stays finite as ``z`` nears 1 (a long horizon against a young customer)
    where the paper's form multiplies an overflowing series by a vanishing power.

    When a and b are huge (a population whose drop-out probability hardly varies:
    the fit runs along the ridge towards a fixed p), the power underflows and the
    series overflows all the same; those customers take the expectation at the
    mean drop-out probability p̄ = a / (a + b + x) of their Beta posterior,
    ``(1 - ((α+T) / (α+T+p̄t))^(r+x)) / p̄`` (the expectation over λ being exact),
    whose error is of the order of the posterior's variance of p, below
    1 / (a + b + x) relatively."""
    r, alpha, a, b = params
    x, t_x, age = _customer_arrays(x, t_x, age)
    if abs(a - 1.0) < 1e-9:  # the formula's removable singularity at a = 1
        a += 1e-9
    z = horizon / (alpha + age + horizon)
    c = a + b + x - 1
    with np.errstate(all="ignore"):
        bracket = 1.0 - np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        expected = (c / (a - 1)) * bracket
        lost = ~np.isfinite(expected)
        if lost.any():
            p_mean = a / (a + b + x[lost])
            growth = np.log1p(p_mean * horizon / (alpha + age[lost]))
            expected[lost] = -np.expm1(-(r + x[lost]) * growth) / p_mean
    return expected * bgnbd_probability_alive(params, x, t_x, age)


# ---------------------------------------------------------------------- Gamma-Gamma
def gamma_gamma_log_likelihood(params, x, m, gradient=False):
    """Each repeat customer's Gamma-Gamma log-likelihood of their mean amount ``m``
    over ``x`` repeat visits (Fader, Hardie & Lee 2005, RFM and CLV, eq. 3); with
    ``gradient``, also its derivatives by p, q and γ (rows of a 3 × n array)."""
    p, q, gamma = params
    px = p * x
    log_total = np.log(gamma + x * m)
    log_likelihood = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_total
    )
    if not gradient:
        return log_likelihood
    shared = digamma(px + q)
    grad = np.empty((3, len(x)))
    grad[0] = x * (shared - digamma(px) + np.log(m) + np.log(x) - log_total)
    grad[1] = shared - digamma(q) + np.log(gamma) - log_total
    grad[2] = q / gamma - (px + q) / (gamma + x * m)
    return log_likelihood, grad


def gamma_gamma_expected_value(params, x, m):
    """E[mean visit value | x, m]; the population mean p·γ/(q-1) when x = 0.
    ``None`` when q ≤ 1 (the population mean is then infinite)."""
    p, q, gamma = params
    if q <= 1:
        return None
    return p * (gamma + x * m) / (p * x + q - 1)


# ---------------------------------------------------------------------- fitting
def _maximise(log_likelihood, weights, start, penalizer=0.0, gradient=None):
    """Maximise ``sum(weights · log_likelihood(exp(θ)))`` over the log-parameters θ,
    bounded to ±LOG_BOUND, with an L2 penalty ``penalizer · |θ|²`` (0: plain
    maximum likelihood). ``gradient(exp(θ))``, if given, returns the rows'
    log-likelihoods and their derivatives by θ (k × n). L-BFGS-B first,
    Nelder-Mead if it fails. Returns ``(parameters, total log-likelihood,
    optimiser result)``."""
    total = weights.sum()

    def objective(theta):
        with np.errstate(all="ignore"):
            value = -(weights * log_likelihood(np.exp(theta))).sum() / total
        value += penalizer * float(theta @ theta)
        return value if np.isfinite(value) else 1e300

    def objective_and_gradient(theta):
        with np.errstate(all="ignore"):
            rows, derivatives = gradient(np.exp(theta))
            value = -(weights * rows).sum() / total + penalizer * float(theta @ theta)
            slope = -(derivatives @ weights) / total + 2 * penalizer * theta
        if not (np.isfinite(value) and np.isfinite(slope).all()):
            return 1e300, np.zeros_like(theta)
        return value, slope

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    result = minimize(
        objective_and_gradient if gradient else objective,
        start,
        jac=bool(gradient),
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 2000},
    )
    # A line search that stalls ("ABNORMAL") at a finite value has reached the
    # likelihood's maximum to the precision of its arithmetic: typically along the
    # ridge of a population without heterogeneity (Gamma-Gamma's q and γ, BG/NBD's
    # a and b growing together), where Nelder-Mead spent its 5,000 evaluations
    # (16 s on 40,000 customers) to gain 1e-8. The result is kept (``converged``
    # stays false on the fit record).
    stalled = (
        not result.success
        and str(result.message).startswith("ABNORMAL")
        and result.fun < 1e300
        and np.all(np.isfinite(result.x))
    )
    if (not result.success and not stalled) or result.fun >= 1e300:
        result = minimize(
            objective,
            start,
            method="Nelder-Mead",
            bounds=bounds,
            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 5000, "maxfev": 5000},
        )
    if result.fun >= 1e300 or not np.all(np.isfinite(result.x)):
        raise FitError(str(result.message))
    params = np.exp(result.x)
    with np.errstate(all="ignore"):
        log_likelihood_total = float((weights * log_likelihood(params)).sum())
    return params, log_likelihood_total, result


def fit_bgnbd_arrays(x, t_x, age, penalizer=0.0):
    """Fit BG/NBD on checked float arrays (any one time unit). Identical
    customers are counted once with a weight (in days, a large base has far
    fewer distinct (x, t_x, T) than customers). Returns a dict with ``r``,
    ``alpha``, ``a``, ``b`` (α in the data's unit), ``log_likelihood`` and
    ``converged``; raises ``FitError``."""
    rows, weights = np.unique(np.column_stack([x, t_x, age]), axis=0, return_counts=True)
    ux, ut, ua = rows.T
    # α is fitted relative to the mean age, so the start (all parameters 1)
    # suits days as well as weeks
    scale = float(age.mean()) or 1.0
    unit = np.array([1.0, scale, 1.0, 1.0])

    def log_likelihood(params):
        return bgnbd_log_likelihood(params * unit, ux, ut, ua)

    def gradient(params):
        # by the log-parameters: d/dθ = P · d/dP, for P = exp(θ) · unit
        natural = params * unit
        rows, derivatives = bgnbd_log_likelihood(natural, ux, ut, ua, gradient=True)
        return rows, derivatives * natural[:, None]

    params, total, result = _maximise(
        log_likelihood, weights.astype(float), np.zeros(4), penalizer, gradient
    )
    r, alpha, a, b = params * unit
    return {
        "r": float(r),
        "alpha": float(alpha),
        "a": float(a),
        "b": float(b),
        "log_likelihood": total,
        "converged": bool(result.success),
    }


def fit_gamma_gamma_arrays(x, m, penalizer=0.0):
    """Fit Gamma-Gamma on checked arrays of repeat customers (x ≥ 1, m > 0).
    Returns ``p``, ``q``, ``gamma`` (in the amounts' unit), ``log_likelihood`` and
    ``converged``; raises ``FitError``. Identical ``(x, m)`` are counted once
    with a weight (fixed prices make many customers' mean amounts equal)."""
    scale = float(m.mean()) or 1.0
    unit = np.array([1.0, 1.0, scale])
    rows, weights = np.unique(np.column_stack([x, m]), axis=0, return_counts=True)
    ux, um = rows.T

    def log_likelihood(params):
        return gamma_gamma_log_likelihood(params * unit, ux, um)

    def gradient(params):
        # by the log-parameters, as for BG/NBD
        natural = params * unit
        rows, derivatives = gamma_gamma_log_likelihood(natural, ux, um, gradient=True)
        return rows, derivatives * natural[:, None]

    params, total, result = _maximise(
        log_likelihood, weights.astype(float), np.zeros(3), penalizer, gradient
    )
    p, q, gamma = params * unit
    return {
        "p": float(p),
        "q": float(q),
        "gamma": float(gamma),
        "log_likelihood": total,
        "converged": bool(result.success),
    }


class HousekeepingPrediction(models.AbstractModel):
    """The prediction models' entry point: fits on figures given by the caller
    (checked, with translated errors). The nightly engine
    (``housekeeping.engine.prediction``) fits each company's customers and
    writes the customers' predictions."""

    _name = "housekeeping.prediction"
    _description = "Customer Prediction Models"

    @api.model
    def _prediction_arrays(self, names, *sequences):
        """The sequences as float arrays of one length, or a ValidationError
        naming what is wrong."""
        if not self.env.su and not self.env.user._is_internal():
            raise UserError(self.env._("Only internal users can fit the prediction models."))
        try:
            arrays = [np.asarray(values, dtype=float) for values in sequences]
        except (TypeError, ValueError) as error:
            raise ValidationError(
                self.env._("%(names)s must be sequences of numbers.", names=names)
            ) from error
        if any(array.ndim != 1 for array in arrays):
            raise ValidationError(
                self.env._("%(names)s must be flat sequences of numbers.", names=names)
            )
        lengths = [len(array) for array in arrays]
        if len(set(lengths)) > 1:
            raise ValidationError(
                self.env._(
                    "%(names)s must have the same length (one value per customer), "
                    "not %(lengths)s values.",
                    names=names,
                    lengths=", ".join(str(length) for length in lengths),
                )
            )
        if not lengths[0]:
            raise ValidationError(self.env._("At least one customer is needed to fit a model."))
        if not all(np.isfinite(array).all() for array in arrays):
            raise ValidationError(self.env._("%(names)s must be finite numbers.", names=names))
        if any((array < 0).any() for array in arrays):
            raise ValidationError(self.env._("%(names)s cannot be negative.", names=names))
        return arrays

    @api.model
    def _penalizer(self, penalizer):
        try:
            value = float(penalizer)
        except (TypeError, ValueError) as error:
            raise ValidationError(self.env._("The penalizer must be a number.")) from error
        if not np.isfinite(value) or value < 0:
            raise ValidationError(self.env._("The penalizer must be zero or positive."))
        return value

    @api.model
    def fit_bgnbd(self, frequency, recency, age, penalizer=0.0):
        """Fit BG/NBD by maximum likelihood.

        :param frequency: each customer's repeat visits (visits after the first)
        :param recency: time of each customer's last visit since their first
        :param age: time since each customer's first visit (same unit as recency)
        :param penalizer: L2 penalty on the log-parameters (0: plain maximum likelihood)
        :return: ``{"r", "alpha", "a", "b", "log_likelihood"}`` (α in the unit given)
        """
        x, t_x, ages = self._prediction_arrays(
            self.env._("Frequency, recency and age"), frequency, recency, age
        )
        late = np.flatnonzero(t_x > ages)
        if late.size:
            index = int(late[0])
            raise ValidationError(
                self.env._(
                    "A customer's recency (time of the last visit since the first) cannot "
                    "exceed their age (time since the first visit): customer %(index)s has "
                    "recency %(recency)s and age %(age)s.",
                    index=index + 1,
                    recency=t_x[index],
                    age=ages[index],
                )
            )
        if not (x > 0).any():
            raise ValidationError(
                self.env._("At least one customer with a repeat visit is needed to fit BG/NBD.")
            )
        if not (ages > 0).any():
            raise ValidationError(
                self.env._("At least one customer with an age above 0 is needed to fit BG/NBD.")
            )
        try:
            fit = fit_bgnbd_arrays(x, t_x, ages, self._penalizer(penalizer))
        except FitError as error:
            raise UserError(
                self.env._(
                    "BG/NBD could not be fitted to these figures (%(reason)s).", reason=error
                )
            ) from error
        return {key: fit[key] for key in ("r", "alpha", "a", "b", "log_likelihood")}

    @api.model
    def fit_gamma_gamma(self, frequency, monetary, penalizer=0.0):
        """Fit Gamma-Gamma by maximum likelihood.

        :param frequency: repeat visits of customers with at least one repeat visit
        :param monetary: their mean repeat-visit amount (above 0)
        :return: ``{"p", "q", "gamma"}`` (γ in the amounts' unit)
        """
        x, m = self._prediction_arrays(
            self.env._("Frequency and monetary value"), frequency, monetary
        )
        if (x < 1).any():
            raise ValidationError(
                self.env._(
                    "Gamma-Gamma takes only customers with at least one repeat visit "
                    "(a frequency of 1 or more)."
                )
            )
        if (m <= 0).any():
            raise ValidationError(
                self.env._("Gamma-Gamma needs mean amounts above 0 for every customer.")
            )
        try:
            fit = fit_gamma_gamma_arrays(x, m, self._penalizer(penalizer))
        except FitError as error:
            raise UserError(
                self.env._(
                    "Gamma-Gamma could not be fitted to these figures (%(reason)s).", reason=error
                )
            ) from error
        return {key: fit[key] for key in ("p", "q", "gamma")}


class HousekeepingPredictionFit(models.Model):
    """One nightly fit of a company's customers: the parameters, the customers
    used, the log-likelihood and a holdout check (the model fitted on the
    history up to ``holdout_days`` ago, its predicted repeat visits since then
    against the actual ones), so a manager can see the model is sound. Written
    by the prediction engine alone."""

    _name = "housekeeping.prediction.fit"
    _description = "Customer Prediction Fit"
    _order = "date desc, company_id, id desc"

    date = fields.Date(required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    state = fields.Selection(
        [("fitted", "Fitted"), ("skipped", "Skipped"), ("failed", "Failed")],
        required=True,
        readonly=True,
        help="Skipped: too few customers to fit; failed: the optimiser found no "
        "maximum. The customers then keep the company's last fitted model.",
    )
    note = fields.Char(readonly=True)
    population_count = fields.Integer(
        string="Customers Predicted",
        readonly=True,
        help="The company's customers with a done visit: every one of them is predicted.",
    )
    customer_count = fields.Integer(
        string="Customers Used",
        readonly=True,
        help="The customers the models were fitted on: every customer, or a fixed sample "
        "of them in a large base (system parameter prediction_fit_sample, 50,000 by "
        "default).",
    )
    repeat_customer_count = fields.Integer(
        string="Repeat Customers",
        readonly=True,
        help="Customers used with two visit days or more.",
    )
    r = fields.Float(readonly=True, digits=(16, 4), help="BG/NBD: shape of the visit rates.")
    alpha = fields.Float(
        readonly=True, digits=(16, 4), help="BG/NBD: scale of the visit rates, in days."
    )
    a = fields.Float(readonly=True, digits=(16, 4), help="BG/NBD: drop-out probability, Beta a.")
    b = fields.Float(readonly=True, digits=(16, 4), help="BG/NBD: drop-out probability, Beta b.")
    log_likelihood = fields.Float(readonly=True, digits=(16, 1))
    converged = fields.Boolean(readonly=True)
    p = fields.Float(readonly=True, digits=(16, 4), help="Gamma-Gamma: shape of a visit's value.")
    q = fields.Float(readonly=True, digits=(16, 4), help="Gamma-Gamma: shape of the mean values.")
    gamma = fields.Float(
        readonly=True, digits=(16, 4), help="Gamma-Gamma: scale of the mean values."
    )
    mean_visit_value = fields.Monetary(
        readonly=True, help="Expected value of a visit of a customer without repeat visits yet."
    )
    holdout_days = fields.Integer(readonly=True)
    holdout_customer_count = fields.Integer(
        string="Holdout Customers",
        readonly=True,
        help="Customers whose first visit came before the holdout period (a fixed sample "
        "of them in a large base: system parameter prediction_holdout_sample, 20,000 by "
        "default).",
    )
    holdout_predicted = fields.Float(
        string="Predicted Visits (Holdout)", readonly=True, digits=(16, 1)
    )
    holdout_actual = fields.Integer(string="Actual Visits (Holdout)", readonly=True)
    holdout_error = fields.Float(
        string="Holdout Error (%)",
        readonly=True,
        digits=(16, 1),
        help="Predicted minus actual repeat visits of the holdout period, in percent "
        "of the actual ones.",
    )
    holdout_mae = fields.Float(
        string="Mean Absolute Error (Holdout)",
        readonly=True,
        digits=(16, 3),
        help="Mean over the customers of |predicted - actual| visits in the holdout period.",
    )

    _company_date_unique = models.Constraint(
        "UNIQUE(company_id, date)", "A company has one prediction fit per day."
    )

    @api.depends("company_id", "date")
    def _compute_display_name(self):
        for fit in self:
            fit.display_name = f"{fit.company_id.name} {fit.date or ''}"
