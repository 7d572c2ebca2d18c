# res.partner is extended once (res_partner.py: fields, actions and its one
# write()/create(), the trust boundary first). What a done or cancelled visit
# runs, and in which order, is housekeeping.visit._hk_pipeline_done /
# _hk_pipeline_cancelled.
from . import res_company
from . import res_config_settings
from . import housekeeping_household_tag
from . import housekeeping_weekday
from . import housekeeping_service_type
from . import housekeeping_offer_mixin

# the batched engines' position in their pass (used by res.partner's batch helpers)
from . import housekeeping_engine_position
from . import res_partner
from . import housekeeping_visit
from . import housekeeping_complaint
from . import rating_rating
from . import sale_order
from . import housekeeping_demo
from . import housekeeping_partner_rfm
from . import housekeeping_tier
from . import housekeeping_tier_log
from . import housekeeping_tier_member_count
from . import housekeeping_holiday
from . import housekeeping_points
from . import housekeeping_reward
from . import housekeeping_points_campaign
from . import housekeeping_stage_log
from . import housekeeping_churn_reason
from . import res_users
from . import housekeeping_journey
from . import housekeeping_recommendation
from . import housekeeping_dashboard
from . import housekeeping_dashboard_snapshot
from . import housekeeping_prediction
from . import loyalty_card
from . import housekeeping_prepaid
from . import housekeeping_package
from . import hr_employee
from . import housekeeping_service_plan
from . import housekeeping_service_plan_template

# The engines (models/engines): each a small model on a shared base.
from . import engines

# (folded into res_partner.py by the lead)
