import logging

from odoo import models
from odoo.exceptions import UserError
from odoo.http import request

_logger = logging.getLogger(__name__)


class ResUsers(models.Model):
    _inherit = "res.users"

    def _create_user_from_template(self, values):
        """A customer signing up from a friend's share link (which stored the
        referral code in the session) is recorded as referred by that friend."""
        user = super()._create_user_from_template(values)
        code = request and request.session.get("hk_referral_code")
        if code:
            try:
                user.partner_id.sudo().action_apply_referral_code(code)
            except UserError as error:
                _logger.info("Referral code %s not applied at signup: %s", code, error)
            request.session.pop("hk_referral_code", None)
        return user

    def _hk_is_working_person(self):
        """A person who works in the back office: an active internal user, not
        OdooBot nor the superuser (whose activities and complaints nobody sees)."""
        if len(self) != 1:
            return False
        user = self.sudo()
        return bool(
            user.active
            and not user.share
            and not user._is_superuser()
            and user != self.env.ref("base.user_root", raise_if_not_found=False)
        )
