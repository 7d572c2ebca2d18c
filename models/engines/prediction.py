import logging

import numpy as np

from odoo import api, fields, models
from odoo.tools import SQL

from ..bulk import pg_array
from ..housekeeping_prediction import (
    FitError,
    bgnbd_expected_visits,
    bgnbd_probability_alive,
    fit_bgnbd_arrays,
    fit_gamma_gamma_arrays,
    gamma_gamma_expected_value,
)

_logger = logging.getLogger(__name__)

# The customer fields the prediction engine maintains; never written by the ORM.
PREDICTION_FIELDS = ("probability_alive", "expected_visits_90d", "predicted_value_12m")

# One customer of the summary, as the summary query packs it (big-endian, the
# byte order of PostgreSQL's int4send/float8send): the partner, then the figures
# in days (local days of the customer) of the whole history and of the
# calibration period of the holdout check.
SUMMARY_DTYPE = np.dtype(
    [
        ("id", ">i4"),
        ("x", ">i4"),  # repeat visit days (visit days - 1)
        ("t_x", ">i4"),  # last visit day - first visit day
        ("age", ">i4"),  # today - first visit day
        ("m", ">f8"),  # mean amount of a repeat visit day (0 without repeat)
        ("mean_amount", ">f8"),  # mean amount of a visit day
        ("x_cal", ">i4"),  # repeat visit days up to the cut-off (-1: first visit after it)
        ("t_x_cal", ">i4"),
        ("age_cal", ">i4"),  # cut-off - first visit day (negative: after it)
        ("x_holdout", ">i4"),  # visit days after the cut-off
    ]
)

# the horizons of the customers' figures, in days
VISITS_HORIZON = 90
VALUE_HORIZON = 365

# Above these numbers of customers, a company's models are fitted on a sample,
# and its holdout check runs on a sample (settings prediction_fit_sample and
# prediction_holdout_sample; 0: every customer). Every customer is still
# predicted. At 50,000 customers the parameters' sampling error is far below
# what separates two customers (docs/prediction.md, "Speed").
FIT_SAMPLE = 50_000
HOLDOUT_SAMPLE = 20_000


def sample_mask(ids, size):
    """A deterministic sample of ``size`` customers of ``ids`` (all of them when
    ``size`` is 0 or not below their number), as a boolean mask: the customers
    of smallest Knuth multiplicative hash of their id (``id × 2654435761 mod
    2^32``, a bijection of the ids: no ties). The same customers night after
    night, spread over the whole base whatever the order of the ids."""
    if not size or len(ids) <= size:
        return np.ones(len(ids), dtype=bool)
    key = (ids.astype(np.uint64) * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    mask = np.zeros(len(ids), dtype=bool)
    mask[np.argpartition(key, size - 1)[:size]] = True
    return mask


class HousekeepingEnginePrediction(models.AbstractModel):
    """Customer predictions (nightly, ``ir_cron_prediction``): for each company,
    BG/NBD and Gamma-Gamma (``models/housekeeping_prediction.py``) fitted by
    maximum likelihood on one set-based summary of every customer's done visits,
    the fit recorded in ``housekeeping.prediction.fit`` with a holdout check, and
    each customer's ``probability_alive``, ``expected_visits_90d`` and
    ``predicted_value_12m`` written with one ``UPDATE … FROM unnest``.

    One pass, a constant number of statements whatever the population: the
    summary comes back as one packed binary string per company (read into numpy
    without a row of Python per customer), the fits and predictions are numpy,
    and the figures go back as arrays. No batches, no position: the fit needs
    every customer of a company at once.

    Settings (``ir.config_parameter``, prefixed ``housekeeping_membership.``):
    ``prediction_min_customers`` (default 30: fewer customers, or fewer than a
    third of that with repeat visits, and the company's fit is skipped),
    ``prediction_holdout_days`` (default 90), ``prediction_penalizer`` (default 0),
    ``prediction_fit_sample`` (default 50,000: a larger company's models are
    fitted on that many customers drawn deterministically, ``sample_mask``; 0:
    all) and ``prediction_holdout_sample`` (default 20,000, the same for the
    holdout check).
    """

    _name = "housekeeping.engine.prediction"
    _inherit = ["housekeeping.engine"]
    _description = "Customer Prediction Engine"

    _engine_key = "prediction"
    _engine_fields = PREDICTION_FIELDS

    @api.model
    def _cron_predict(self):
        """Scheduled action ``ir_cron_prediction``."""
        return self._cron()

    # ------------------------------------------------------------------ settings
    @api.model
    def _prediction_settings(self):
        get = self.env["ir.config_parameter"].sudo().get_param
        prefix = "housekeeping_membership.prediction_"
        return {
            "min_customers": max(int(get(f"{prefix}min_customers", 30)), 3),
            "holdout_days": max(int(get(f"{prefix}holdout_days", 90)), 1),
            "penalizer": max(float(get(f"{prefix}penalizer", 0.0)), 0.0),
            # 0: every customer
            "fit_sample": max(int(get(f"{prefix}fit_sample", FIT_SAMPLE)), 0),
            "holdout_sample": max(int(get(f"{prefix}holdout_sample", HOLDOUT_SAMPLE)), 0),
        }

    # ------------------------------------------------------------------ run
    @api.model
    def _run(self):
        """Fit every company's models and write every customer's predictions.
        Returns the number of customers whose figures changed.

        A company whose fit is skipped or fails keeps predicting with its last
        fitted model; its customers have no prediction (empty figures) until it
        has one. A rerun on the same day replaces the day's fit records and
        writes only the figures that changed (none)."""
        settings = self._prediction_settings()
        today = fields.Date.context_today(self)
        summaries = self._prediction_summary(settings["holdout_days"])
        Fit = self.env["housekeeping.prediction.fit"].sudo()
        vals_list = [
            {
                "date": today,
                "company_id": company_id,
                **self._prediction_fit_company(data, settings),
            }
            for company_id, data in summaries.items()
        ]
        Fit.search([("date", "=", today), ("company_id", "in", list(summaries))]).unlink()
        Fit.create(vals_list)
        models_by_company = self._prediction_models(list(summaries))
        ids, alive, visits, value = [], [], [], []
        for company_id, data in summaries.items():
            fit = models_by_company.get(company_id)
            if fit is None:
                continue
            scores = self._prediction_scores(fit, data)
            ids.append(data["id"])
            alive.append(scores[0])
            visits.append(scores[1])
            value.append(scores[2])
        return self._prediction_write(
            *(
                np.concatenate(parts) if parts else np.empty(0)
                for parts in (ids, alive, visits, value)
            )
        )

    @api.model
    def _prediction_summary(self, holdout_days):
        """Every active customer's done visits summed up by local day (the
        customer's time zone), per company (the customer's, or the main company
        for shared customers), in one statement: ``{company_id: array of
        SUMMARY_DTYPE}``. The figures are whole days: a customer's repeat visits
        are their visit days after the first, as in the papers (two visits on one
        day are one purchase occasion), and the monetary value of a repeat is the
        amount of its day."""
        self.env["housekeeping.visit"].flush_model(["partner_id", "state", "date", "amount"])
        self.env["res.partner"].flush_model(["tz", "company_id", "active", "visit_count"])
        self.env.cr.execute(
            SQL(
                """
            WITH target AS (
                SELECT p.id, %(company)s AS company_id,
                       COALESCE(NULLIF(p.tz, ''), %(tz)s) AS tz
                  FROM res_partner p
                 WHERE p.active AND p.visit_count > 0
            ), days AS (
                SELECT t.id, t.company_id,
                       (%(now)s::timestamp AT TIME ZONE 'UTC' AT TIME ZONE t.tz)::date AS today,
                       (v.date AT TIME ZONE 'UTC' AT TIME ZONE t.tz)::date AS day,
                       sum(v.amount) AS amount
                  FROM target t
                  JOIN housekeeping_visit v ON v.partner_id = t.id
                 WHERE v.state = 'done' AND v.date <= %(now)s
                 GROUP BY 1, 2, 3, 4
            ), marked AS (
                SELECT days.*, min(day) OVER (PARTITION BY id) AS first_day,
                       today - %(holdout)s AS cutoff
                  FROM days
            ), customer AS (
                SELECT id, company_id,
                       count(*) - 1 AS x,
                       max(day) - first_day AS t_x,
                       today - first_day AS age,
                       COALESCE(sum(amount) FILTER (WHERE day > first_day)
                                / NULLIF(count(*) - 1, 0), 0) AS m,
                       sum(amount) / count(*) AS mean_amount,
                       count(*) FILTER (WHERE day <= cutoff) - 1 AS x_cal,
                       COALESCE(max(day) FILTER (WHERE day <= cutoff) - first_day, 0) AS t_x_cal,
                       cutoff - first_day AS age_cal,
                       count(*) FILTER (WHERE day > cutoff) AS x_holdout
                  FROM marked
                 GROUP BY id, company_id, today, first_day, cutoff
            )
            SELECT company_id,
                   string_agg(
                       int4send(id) || int4send(x::int4) || int4send(t_x) || int4send(age)
                       || float8send(m::float8) || float8send(mean_amount::float8)
                       || int4send(x_cal::int4) || int4send(t_x_cal) || int4send(age_cal)
                       || int4send(x_holdout::int4),
                       ''::bytea ORDER BY id)
              FROM customer
             GROUP BY company_id
            """,
                company=self._settings_company_sql("p"),
                tz=self.env.user.tz or "UTC",
                # Odoo's clock, not the database's (the day the scheduler or a test runs on)
                now=fields.Datetime.now(),
                holdout=holdout_days,
            )
        )
        return {
            company_id: np.frombuffer(bytes(packed), dtype=SUMMARY_DTYPE)
            for company_id, packed in self.env.cr.fetchall()
        }

    # ------------------------------------------------------------------ fit
    @api.model
    def _prediction_fit_company(self, data, settings):
        """The fit record's values for one company's summary: BG/NBD on every
        customer (on a sample above ``fit_sample`` customers), Gamma-Gamma on
        the repeat customers with an amount among them, and the holdout check
        (BG/NBD fitted again on the history up to the cut-off)."""
        population = len(data)
        fitted = data[sample_mask(data["id"], settings["fit_sample"])]
        x = fitted["x"].astype(float)
        t_x = fitted["t_x"].astype(float)
        age = fitted["age"].astype(float)
        repeat = int((x > 0).sum())
        vals = {
            "population_count": population,
            "customer_count": len(fitted),
            "repeat_customer_count": repeat,
            "holdout_days": settings["holdout_days"],
        }
        minimum = settings["min_customers"]
        if len(fitted) < minimum or repeat < max(minimum // 3, 1) or not (age > 0).any():
            return {
                **vals,
                "state": "skipped",
                "note": self.env._(
                    "Too few customers to fit: %(customers)s customers, %(repeat)s with repeat "
                    "visits (at least %(minimum)s and %(repeat_minimum)s needed).",
                    customers=len(fitted),
                    repeat=repeat,
                    minimum=minimum,
                    repeat_minimum=max(minimum // 3, 1),
                ),
            }
        try:
            bgnbd = fit_bgnbd_arrays(x, t_x, age, settings["penalizer"])
        except FitError as error:
            _logger.warning("Prediction: BG/NBD fit failed: %s", error)
            return {
                **vals,
                "state": "failed",
                "note": self.env._("The optimiser found no maximum: %(reason)s", reason=error),
            }
        vals.update(
            {
                "state": "fitted",
                "r": bgnbd["r"],
                "alpha": bgnbd["alpha"],
                "a": bgnbd["a"],
                "b": bgnbd["b"],
                "log_likelihood": bgnbd["log_likelihood"],
                "converged": bgnbd["converged"],
            }
        )
        valued = (fitted["x"] > 0) & (fitted["m"] > 0)
        if valued.sum() >= max(minimum // 3, 1):
            try:
                gg = fit_gamma_gamma_arrays(
                    fitted["x"][valued].astype(float),
                    fitted["m"][valued].astype(float),
                    settings["penalizer"],
                )
            except FitError as error:
                _logger.warning("Prediction: Gamma-Gamma fit failed: %s", error)
            else:
                vals.update({"p": gg["p"], "q": gg["q"], "gamma": gg["gamma"]})
                mean = gamma_gamma_expected_value((gg["p"], gg["q"], gg["gamma"]), 0.0, 0.0)
                vals["mean_visit_value"] = mean or 0.0
        vals.update(self._prediction_holdout(data, settings))
        return vals

    @api.model
    def _prediction_holdout(self, data, settings):
        """BG/NBD fitted on the history up to ``holdout_days`` ago (the customers
        whose first visit came by then; a sample of ``holdout_sample`` of them
        above that number), its expected repeat visits since then against the
        actual ones."""
        calibration = data[(data["age_cal"] >= 0) & (data["x_cal"] >= 0)]
        calibration = calibration[sample_mask(calibration["id"], settings["holdout_sample"])]
        x = calibration["x_cal"].astype(float)
        age = calibration["age_cal"].astype(float)
        minimum = settings["min_customers"]
        if len(calibration) < minimum or (x > 0).sum() < max(minimum // 3, 1) or not age.any():
            return {"holdout_customer_count": len(calibration)}
        try:
            fit = fit_bgnbd_arrays(
                x, calibration["t_x_cal"].astype(float), age, settings["penalizer"]
            )
        except FitError:
            return {"holdout_customer_count": len(calibration)}
        params = (fit["r"], fit["alpha"], fit["a"], fit["b"])
        predicted = bgnbd_expected_visits(
            params, settings["holdout_days"], x, calibration["t_x_cal"].astype(float), age
        )
        actual = calibration["x_holdout"].astype(float)
        total_actual = float(actual.sum())
        return {
            "holdout_customer_count": len(calibration),
            "holdout_predicted": float(predicted.sum()),
            "holdout_actual": int(total_actual),
            "holdout_error": (
                100.0 * (float(predicted.sum()) - total_actual) / total_actual
                if total_actual
                else 0.0
            ),
            "holdout_mae": float(np.abs(predicted - actual).mean()),
        }

    @api.model
    def _prediction_models(self, company_ids):
        """The last fitted model of each company: ``{company_id: fit values}``."""
        fits = (
            self.env["housekeeping.prediction.fit"]
            .sudo()
            .search_fetch(
                [("company_id", "in", company_ids), ("state", "=", "fitted")],
                ["company_id", "r", "alpha", "a", "b", "p", "q", "gamma", "currency_id"],
                order="date desc, id desc",
            )
        )
        models_by_company = {}
        for fit in fits:
            models_by_company.setdefault(
                fit.company_id.id,
                {
                    "bgnbd": (fit.r, fit.alpha, fit.a, fit.b),
                    "gamma_gamma": (fit.p, fit.q, fit.gamma) if fit.q else None,
                    "digits": fit.currency_id.decimal_places,
                },
            )
        return models_by_company

    # ------------------------------------------------------------------ predict
    @api.model
    def _prediction_scores(self, fit, data):
        """Arrays of the customers' probability of being alive, expected visits in
        the next 90 days and predicted value of the next 12 months (expected
        visits in 365 days × expected value of a visit: Gamma-Gamma's conditional
        mean, or the customer's own mean amount without a Gamma-Gamma fit)."""
        x = data["x"].astype(float)
        t_x = data["t_x"].astype(float)
        age = data["age"].astype(float)
        params = fit["bgnbd"]
        with np.errstate(all="ignore"):
            alive = bgnbd_probability_alive(params, x, t_x, age)
            visits = bgnbd_expected_visits(params, VISITS_HORIZON, x, t_x, age)
            year = bgnbd_expected_visits(params, VALUE_HORIZON, x, t_x, age)
            per_visit = None
            if fit["gamma_gamma"]:
                per_visit = gamma_gamma_expected_value(
                    fit["gamma_gamma"], x, data["m"].astype(float)
                )
            if per_visit is None:
                per_visit = data["mean_amount"].astype(float)
        # never exactly 0: Odoo reads an empty (no prediction) figure as 0, and the
        # filters tell them apart by "!= False" (stored to 4 decimals)
        alive = np.clip(np.nan_to_num(alive, nan=1.0), 1e-4, 1.0).round(4)
        visits = np.clip(np.nan_to_num(visits, nan=0.0, posinf=0.0), 0.0, None).round(3)
        year = np.clip(np.nan_to_num(year, nan=0.0, posinf=0.0), 0.0, None)
        value = (year * np.nan_to_num(per_visit, nan=0.0, posinf=0.0)).round(fit["digits"])
        return alive, visits, value

    @api.model
    def _prediction_write(self, ids, alive, visits, value):
        """Write the figures of the customers ``ids`` and empty those of the
        customers no longer predicted (archived, visits cancelled, a company
        without a model), in one statement over arrays; rows already right are
        not written. Returns the number of customers changed."""
        Partner = self.env["res.partner"]
        Partner.flush_model([*PREDICTION_FIELDS, "company_id", "lifecycle_next_check"])
        self.env["res.company"].flush_model(
            ["hk_at_risk_probability_enabled", "hk_at_risk_probability"]
        )
        source = SQL(
            """%s
             UNION ALL
            SELECT p.id, NULL, NULL, NULL
              FROM res_partner p
             -- a constant array: PostgreSQL hashes it (an anti-join on the new
             -- rows, estimated at a few rows, ran as a nested loop: 382 s for a
             -- same-day rerun at 100k customers)
             WHERE p.probability_alive IS NOT NULL AND p.id <> ALL(%s::int4[])""",
            self._rows(
                id=ids,
                probability_alive=alive,
                expected_visits_90d=visits,
                predicted_value_12m=value,
            ),
            pg_array(ids),
        )
        return self._apply(
            source,
            {name: name for name in PREDICTION_FIELDS},
            join=SQL("res_company rc"),
            where=SQL("rc.id = %s", self._settings_company_sql("p")),
            # the lifecycle's optional rule by probability reads it: a customer
            # below the company's threshold (before or now) is evaluated at the
            # next run
            extra={
                "lifecycle_next_check": SQL(
                    """CASE WHEN rc.hk_at_risk_probability_enabled
                                 AND (p.probability_alive * 100 < rc.hk_at_risk_probability
                                      OR c.probability_alive * 100 < rc.hk_at_risk_probability)
                            THEN NULL ELSE p.lifecycle_next_check END"""
                )
            },
        )
