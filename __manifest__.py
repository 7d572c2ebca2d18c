# Part of housekeeping_membership. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Housekeeping Membership & Customer Lifecycle",
    "summary": "Customer database, lifecycle stages, membership tiers and points "
    "for housekeeping and domestic-cleaning companies",
    "version": "19.0.1.0.0",
    "category": "Sales/Membership",
    "author": "housekeeping_membership contributors",
    "website": "https://github.com/housekeeping-membership/housekeeping_membership",
    "license": "LGPL-3",
    "application": True,
    "installable": True,
    # contacts: the customer app; mail/rating: chatter, activities, satisfaction;
    # portal: customer pages; hr: cleaners are employees; sale_management and
    # sale_loyalty: visits come from sale orders and coupons are loyalty cards.
    "depends": [
        "contacts",
        "mail",
        "portal",
        "rating",
        "hr",
        "sale_management",
        "sale_loyalty",
        "sms",
    ],
    "data": [
        "security/housekeeping_membership_groups.xml",
        "security/ir.model.access.csv",
        "security/housekeeping_membership_security.xml",
        "security/points_security.xml",
        "security/engagement_security.xml",
        "data/ir_sequence_data.xml",
        "data/mail_activity_type_data.xml",
        "data/housekeeping_household_tag_data.xml",
        "data/housekeeping_weekday_data.xml",
        "data/housekeeping_service_type_data.xml",
        "data/housekeeping_churn_reason_data.xml",
        "data/ir_cron_data.xml",
        "data/points_data.xml",
        "views/housekeeping_service_type_views.xml",
        "views/housekeeping_household_tag_views.xml",
        "views/housekeeping_visit_views.xml",
        "views/housekeeping_complaint_views.xml",
        "views/res_partner_views.xml",
        "views/res_config_settings_views.xml",
        "views/lifecycle_views.xml",
        "views/housekeeping_membership_menus.xml",
        "report/housekeeping_points_report.xml",
        "views/points_views.xml",
        "data/engagement_data.xml",
        "data/engagement_journey_data.xml",
        "views/engagement_views.xml",
    ],
    "demo": [
        "data/housekeeping_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "housekeeping_membership/static/tests/tours/*.js",
        ],
    },
}
