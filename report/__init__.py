from . import housekeeping_points_report
