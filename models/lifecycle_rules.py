"""The lifecycle rules as tables: the stages, the company settings the rules read
(with the name each has in the rule query and its default), and the stage ladder.

Plain Python, no model: ``res.partner`` (the field), ``res.company`` (the settings
and their checks), the preview wizard and the lifecycle engine read the same
tables, and a reader finds the rules in one place. The engine
(``models/engines/lifecycle.py``) turns the ladder into SQL with
``housekeeping.engine._ladder_sql``.
"""

LIFECYCLE_STAGES = [
    ("potential", "Potential"),
    ("new", "New"),
    ("loyal", "Loyal"),
    ("at_risk", "At Risk"),
    ("churned", "Churned"),
]
LOST_STAGES = ("at_risk", "churned")

# res.company fields holding the thresholds (res_company.py, section Lifecycle): the
# name of the column the rule query gives each (in the ``cust`` rows) and the value
# used when a company has none. The dry-run wizard overrides any of them.
LIFECYCLE_SETTINGS = {
    "hk_new_min_visits": ("new_min", 3),
    "hk_new_max_days": ("new_days", 90),
    "hk_at_risk_factor": ("risk_f", 2.0),
    "hk_at_risk_floor_days": ("risk_floor", 45),
    "hk_churn_factor": ("churn_f", 4.0),
    "hk_churn_floor_days": ("churn_floor", 180),
    "hk_low_rating": ("low_rating", 2),
    "hk_rated_visits_window": ("rated_window", 3),
    "hk_season_max_days": ("season_days", 150),
    "hk_season_off_share": ("season_share", 10),
    "hk_season_grace_days": ("season_grace", 30),
    "hk_at_risk_probability_enabled": ("prob_on", False),
    "hk_at_risk_probability": ("prob", 20),
}

# The stage ladder: the first rule whose condition holds gives the stage. The
# conditions read one row ``e`` of the rule query (docs/architecture.md, The
# lifecycle rules): ``idle`` days since the last visit, ``risk_days`` and
# ``churn_days`` (the customer's usual interval times the company's factor, not
# below its floor), the season (``seasonal``, ``season_due``: the start of the
# next season plus the grace, ``season_lost``: a season later), ``quality`` (an
# open complaint or a low rating among the last rated visits), ``unlikely`` (the
# optional rule by probability), ``planned`` (on an active service plan with a
# visit to come: time passing is then no sign of loss, their next planned visit is
# the expectation; a quality signal still counts) and ``today``, the day evaluated.
STAGE_LADDER = (
    # a stage set by hand holds until the override ends
    (None, "e.lifecycle_override_until >= e.today AND e.old_stage IS NOT NULL"),
    ("potential", "e.visit_count = 0"),
    ("churned", "NOT e.planned AND e.seasonal AND e.today > e.season_lost"),
    ("churned", "NOT e.planned AND NOT e.seasonal AND e.idle > e.churn_days"),
    ("at_risk", "e.quality"),
    # not for seasonal customers, whom a model of steady visits takes for lost
    # between seasons
    ("at_risk", "NOT e.planned AND e.unlikely AND NOT e.seasonal"),
    ("at_risk", "NOT e.planned AND e.seasonal AND e.today > e.season_due"),
    ("at_risk", "NOT e.planned AND NOT e.seasonal AND e.idle > e.risk_days"),
    ("loyal", "e.visit_count >= e.new_min"),
    ("loyal", "e.visit_count >= 2 AND e.today - e.first_visit_date >= e.new_days"),
    ("new", "TRUE"),
)

# partner fields the rules read besides the visit statistics (which reset the next
# check themselves, see the statistics engine)
LIFECYCLE_INPUTS = {"is_prospect", "active", "lifecycle_override_until", "company_id"}


# The lifecycle funnel's steps: customers who reached potential, new (a first
# visit) and loyal at least once (the funnel report and its nightly counts).
FUNNEL_STEPS = [
    ("1_potential", "Potential"),
    ("2_new", "New"),
    ("3_loyal", "Loyal"),
]

# What the funnel reads of stage log rows (alias ``l``) grouped by customer: the
# first day, whether they reached new and loyal (the funnel report, its counts per
# day and the nightly snapshot engine that folds the flags).
FUNNEL_FLAGS_SQL = """min(l.date) AS date,
       bool_or(l.to_stage != 'potential'
               OR l.from_stage IN ('new', 'loyal', 'at_risk', 'churned')) AS reached_new,
       bool_or(l.to_stage = 'loyal' OR l.from_stage = 'loyal') AS reached_loyal"""
