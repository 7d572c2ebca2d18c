from . import base_partner_merge
from . import housekeeping_lifecycle_preview
from . import housekeeping_lifecycle_set_stage
from . import housekeeping_reward_redeem
from . import housekeeping_tier_set
from . import housekeeping_visit_rate
from . import housekeeping_partner_anonymize
