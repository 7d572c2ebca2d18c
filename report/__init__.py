from . import housekeeping_points_report
from . import housekeeping_cleaner_quality_report
from . import housekeeping_lifecycle_report
from . import housekeeping_cohort_report
from . import housekeeping_membership_report
from . import housekeeping_visit_report
from . import housekeeping_staff_audit_report
