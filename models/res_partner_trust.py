from odoo import api, models
from odoo.exceptions import AccessError, UserError

from .engines.statistics import VISIT_STAT_FIELDS
from .trust import closed_fields

# The customer fields that an engine computes or an owning action sets (manual
# tier, manual stage, anonymization, deletion request): nobody writes them with
# ``write()``/``create()``, managers and the administrator included, except code
# of this addon inside ``trust.engine_writes`` (see models/trust.py).
ENGINE_FIELDS = (
    # statistics (the statistics engine's own list)
    *VISIT_STAT_FIELDS,
    # lifecycle (res_partner_lifecycle.py; manual stage: action_set_lifecycle_stage)
    "lifecycle_stage",
    "lifecycle_stage_date",
    "lifecycle_override_until",
    "lifecycle_seasonal",
    "lifecycle_next_check",
    "won_back_date",
    "churn_reason_confirmed",
    # tiers (res_partner_tier.py; manual tier: action_set_tier)
    "membership_tier_id",
    "tier_grace_until",
    "tier_manual_until",
    # points (the ledger is the only source of the balance)
    "points_balance",
    "referral_code",
    # engagement (VIP evaluation)
    "hk_vip_since",
    "hk_vip_callback_date",
    # privacy (action_hk_anonymize, the portal's deletion request)
    "hk_anonymized",
    "hk_anonymized_date",
    "hk_anonymized_uid",
    "hk_deletion_requested",
)
ENGINE_FIELD_SET = frozenset(ENGINE_FIELDS)


class ResPartner(models.Model):
    """The trust boundary of the customer: the outermost ``write``/``create`` of
    the addon (this class is loaded last, so it sees exactly what the caller
    sent, before any capability adds its own values)."""

    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    # ------------------------------------------------------------------ public actions
    # Any public method can be called over JSON-RPC on any record id the caller
    # can name, and Odoo checks no access for it: the addon's actions on customers
    # check who calls them (server code in sudo passes, as the portal's routes do
    # after checking the customer is the logged-in user's).
    def _hk_check_staff(self):
        """Membership staff only (service agents and managers)."""
        if not self.env.su and not self.env.user.has_group(
            "housekeeping_membership.group_membership_user"
        ):
            raise AccessError(self.env._("Only membership staff can do this on a customer."))

    def _hk_check_staff_or_self(self):
        """Membership staff, or a customer acting on their own record."""
        if self.env.su or self.env.user.has_group("housekeeping_membership.group_membership_user"):
            return
        own = self.env.user.partner_id.commercial_partner_id
        if any(partner.commercial_partner_id != own for partner in self.sudo()):
            raise AccessError(self.env._("You can do this on your own customer account only."))

    def _hk_refuse_engine_fields(self, names):
        closed = closed_fields(sorted(ENGINE_FIELD_SET.intersection(names)))
        if not closed:
            return
        raise UserError(self._hk_engine_fields_message(closed))

    def _hk_engine_fields_message(self, names):
        labels = ", ".join(
            f"{self._fields[name]._description_string(self.env)} ({name})" for name in names
        )
        return self.env._(
            "These customer fields are kept by the membership engines and cannot be set "
            "directly: %(fields)s. Points change through the ledger (visits, rewards, "
            "adjustments), tiers and stages through their Set Tier and Set Stage actions, "
            "statistics through the visits.",
            fields=labels,
        )

    @api.model_create_multi
    def create(self, vals_list):
        # an empty value forges nothing (a new customer has no visits, points or
        # tier yet): res.users passes its partner fields' defaults, 0 included
        names = {name for vals in vals_list for name, value in vals.items() if value}
        # default_<field> context keys are applied by create() after this point
        names.update(
            key[len("default_") :]
            for key, value in self.env.context.items()
            if value and isinstance(key, str) and key.startswith("default_")
        )
        self._hk_refuse_engine_fields(names)
        return super().create(vals_list)

    def write(self, vals):
        self._hk_refuse_engine_fields(vals)
        return super().write(vals)

    @api.model
    def load(self, fields, data):
        """An import naming engine-owned columns is refused as a whole, with one
        message naming them (not one error per row)."""
        columns = {path.split("/")[0].split(".")[0] for path in fields}
        closed = closed_fields(sorted(ENGINE_FIELD_SET.intersection(columns)))
        if closed:
            return {
                "ids": False,
                "messages": [
                    {
                        "type": "error",
                        "message": self._hk_engine_fields_message(closed),
                        "record": 0,
                        "rows": {"from": 0, "to": max(len(data) - 1, 0)},
                        "field": closed[0],
                    }
                ],
            }
        return super().load(fields, data)
