# The membership engines: the shared base first, then one engine a file.
from . import housekeeping_engine
from . import statistics
from . import rfm
from . import points
from . import points_expiry
from . import points_campaign
from . import birthday
from . import recommendation
from . import tier
from . import lifecycle
from . import vip
from . import journey
from . import cohort
from . import prediction
from . import prepaid
from . import dispatch
from . import service_plan
