from . import portal
from . import portal_plans
from . import portal_prepaid
from . import engagement
