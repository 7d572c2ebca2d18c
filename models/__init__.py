from . import (
    housekeeping_complaint,
    housekeeping_household_tag,
    housekeeping_service_type,
    housekeeping_visit,
    housekeeping_weekday,
    res_company,
    res_config_settings,
    res_partner,
    sale_order,
)
