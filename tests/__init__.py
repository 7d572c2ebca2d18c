from . import test_customer_database
from . import test_visit
from . import test_sale_visits
from . import test_harness
from . import test_ui
from . import test_demo
from . import test_access
from . import test_rfm
