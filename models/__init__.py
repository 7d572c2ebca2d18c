# Import order is extension order: capabilities extending res.partner come after
# the foundation. (What a done or cancelled visit runs, and in which order, does
# not depend on it: housekeeping.visit._hk_pipeline_done/_hk_pipeline_cancelled.)
from . import res_company
from . import res_config_settings
from . import housekeeping_household_tag
from . import housekeeping_weekday
from . import housekeeping_service_type

# the batched engines' position in their pass (used by res.partner's batch helpers)
from . import housekeeping_engine_position
from . import res_partner
from . import housekeeping_visit
from . import housekeeping_complaint
from . import rating_rating
from . import sale_order
from . import housekeeping_demo
from . import res_partner_rfm
from . import housekeeping_tier
from . import housekeeping_tier_log
from . import housekeeping_holiday
from . import res_partner_tier
from . import housekeeping_visit_tier
from . import sale_order_tier
from . import housekeeping_visit_booking
from . import housekeeping_points
from . import housekeeping_reward
from . import housekeeping_points_campaign
from . import housekeeping_visit_points
from . import res_partner_points
from . import res_partner_lifecycle
from . import housekeeping_stage_log
from . import housekeeping_churn_reason
from . import res_users
from . import housekeeping_journey
from . import res_partner_engagement
from . import housekeeping_visit_engagement
from . import housekeeping_recommendation
from . import housekeeping_reporting
from . import res_partner_dashboard
from . import res_partner_privacy

# The engines (models/engines): each a small model on a shared base.
from . import engines

# The trust boundary is the outermost layer of res.partner: loaded last, its
# write()/create() see exactly what the caller sent (see models/trust.py).
from . import res_partner_trust
