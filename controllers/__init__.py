from . import portal
from . import portal_plans
from . import engagement
