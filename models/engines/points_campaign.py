from odoo import api, fields, models


class HousekeepingEnginePointsCampaign(models.AbstractModel):
    """Campaign tasks (daily, ``ir_cron_points_campaigns``): rewards every task
    met in the running campaigns, one query per campaign whatever the number of
    customers (``housekeeping.points.campaign._reward_qualified``); idempotent.
    The ledger credits go through ``housekeeping.points.entry``: no customer
    field of its own."""

    _name = "housekeeping.engine.points.campaign"
    _inherit = ["housekeeping.engine"]
    _description = "Campaign Tasks Engine"

    _engine_key = "points_campaign"

    @api.model
    def _run(self):
        """Daily: reward every task met in the running campaigns (one query per
        campaign, whatever the number of customers); idempotent."""
        today = fields.Date.context_today(self)
        campaigns = (
            self.env["housekeeping.points.campaign"]
            .sudo()
            .search([("date_from", "<=", today), ("date_to", ">=", today)])
        )
        return campaigns._reward_qualified(today)
