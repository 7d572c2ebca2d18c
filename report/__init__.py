from . import housekeeping_points_report
from . import housekeeping_cleaner_quality_report
