from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from .trust import engine_writes, is_open

# opened by action_hk_anonymize only: personal data of an anonymized customer
ANONYMIZE = "hk_anonymize"

# Personal data wiped by the anonymization (fields absent from the database's
# modules are skipped). What accounting needs stays: the ledger, the visits'
# amounts, dates and service types, the sale orders.
PERSONAL_FIELDS = (
    "email",
    "phone",
    "mobile",
    "street",
    "street2",
    "zip",
    "city",
    "state_id",
    "website",
    "function",
    "title",
    "comment",
    "vat",
    "ref",
    "image_1920",
    # customer database
    "birthday",
    "gender",
    "acquisition_channel",
    "household_tag_ids",
    "household_size",
    "home_area",
    "home_type",
    "preferred_weekday_ids",
    "preferred_time_window",
    "prefers_eco_products",
    "prefers_hypoallergenic",
    "preferred_employee_ids",
    "blocked_employee_ids",
    "special_instructions",
    "category_id",
    "referral_code",
    # marketing consent (PIPL): withdrawn
    "consent_email",
    "consent_sms",
)


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    hk_anonymized = fields.Boolean(
        string="Anonymized",
        readonly=True,
        copy=False,
        help="The customer's personal data was erased (PIPL deletion request); the points "
        "ledger and the visits' amounts are kept for accounting.",
    )
    hk_anonymized_date = fields.Datetime(string="Anonymized On", readonly=True, copy=False)
    hk_anonymized_uid = fields.Many2one(
        "res.users", string="Anonymized By", readonly=True, copy=False, ondelete="set null"
    )
    hk_deletion_requested = fields.Datetime(
        string="Deletion Requested",
        readonly=True,
        copy=False,
        help="The customer asked for the deletion of their personal data (portal).",
    )

    def _hk_check_anonymize(self):
        if not self.env.su and not self.env.user.has_group(
            "housekeeping_membership.group_membership_manager"
        ):
            raise AccessError(
                self.env._("Only membership managers can anonymize a customer's personal data.")
            )
        if not self:
            raise UserError(self.env._("Select the customers to anonymize."))
        done = self.filtered("hk_anonymized")
        if done:
            raise UserError(
                self.env._(
                    "Already anonymized: %(customers)s", customers=", ".join(done.mapped("name"))
                )
            )
        internal = (
            self.sudo().with_context(active_test=False).user_ids.filtered(lambda u: not u.share)
        )
        if internal:
            raise UserError(
                self.env._(
                    "%(customers)s is linked to an internal user: archive the user first; "
                    "employees are not anonymized from here.",
                    customers=", ".join(internal.partner_id.mapped("name")),
                )
            )

    def action_hk_anonymize(self):
        """PIPL deletion request: erase the personal data of the customers (and of
        their contacts and addresses), irreversibly, keeping what accounting needs:
        the points ledger, the visits' amounts, dates and service types, the sale
        orders. The portal access is removed, the chatter emptied, pending messages
        cancelled; who and when is recorded on the customer and in the chatter."""
        self._hk_check_anonymize()
        user = self.env.user
        now = fields.Datetime.now()
        partners = self.sudo().with_context(tracking_disable=True, mail_notrack=True)
        # the customers, their contacts and addresses (archived ones included)
        everyone = partners | partners.with_context(active_test=False).child_ids.with_context(
            active_test=True
        )
        # pending e-mails and SMS to them are cancelled first (archiving the
        # customer cancels the journeys' queued messages, see res_partner_engagement)
        everyone._hk_cancel_pending_messages()
        # bank accounts: entries may refer to them (Odoo archives instead of
        # deleting, with a chatter note giving the number): archived, number and
        # holder erased, without a note
        self._hk_erase_bank_accounts(everyone)
        # the chatter of the customers: bodies, subjects, attachments, tracked values
        self._hk_erase_chatter(everyone)
        # notes written about them on their visits and complaints, their ratings'
        # comments (amounts, dates and service types stay)
        visits = self.env["housekeeping.visit"].sudo().search([("partner_id", "in", everyone.ids)])
        visits.with_context(tracking_disable=True).write({"notes": False})
        complaints = (
            self.env["housekeeping.complaint"].sudo().search([("partner_id", "in", everyone.ids)])
        )
        complaints.with_context(tracking_disable=True, mail_notrack=True).write(
            {"description": False}
        )
        self.env["rating.rating"].sudo().search([("partner_id", "in", everyone.ids)]).write(
            {"feedback": False}
        )
        # activities and followers
        self.env["mail.activity"].sudo().search(
            [("res_model", "=", "res.partner"), ("res_id", "in", everyone.ids)]
        ).unlink()
        self.env["mail.followers"].sudo().search([("partner_id", "in", everyone.ids)]).unlink()
        # portal users: archived, login freed (it is usually the e-mail address)
        users = everyone.with_context(active_test=False).user_ids
        for portal_user in users:
            portal_user.write(
                {"active": False, "login": f"anonymized-{portal_user.id}", "signature": False}
            )
        vals = {
            name: False
            for name in PERSONAL_FIELDS
            if name in partners._fields and partners._fields[name].store
        }
        for partner in everyone:
            # the owning action of the privacy fields and of the personal data
            # (the referral code among them)
            with engine_writes():
                partner.write(
                    {
                        **vals,
                        "name": self.env._("Anonymized customer #%(id)s", id=partner.id),
                        "hk_anonymized": True,
                        "hk_anonymized_date": now,
                        "hk_anonymized_uid": user.id,
                        "hk_deletion_requested": False,
                        "active": False,
                    }
                )
        # who and when: a note in the (emptied) chatter, without the erased name
        for partner in partners:
            partner.message_post(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "Personal data anonymized (PIPL deletion request) by %(user)s on %(date)s. "
                    "The points ledger and visit amounts are kept for accounting.",
                    user=user.name,
                    date=fields.Datetime.to_string(now),
                ),
                subtype_xmlid="mail.mt_note",
                author_id=user.partner_id.id,
            )
        return True

    @api.model
    def _hk_erase_bank_accounts(self, partners):
        bank_model = self.env["res.partner.bank"].sudo().with_context(active_test=False)
        banks = bank_model.search([("partner_id", "in", partners.ids)])
        if not banks:
            return
        bank_model.flush_model()
        columns = [
            SQL("%s = 'anonymized-' || id", SQL.identifier(name))
            for name in ("acc_number", "sanitized_acc_number")
            if name in bank_model._fields and bank_model._fields[name].store
        ] + [
            SQL("%s = NULL", SQL.identifier(name))
            for name in ("acc_holder_name", "holder_name", "bank_bic")
            if name in bank_model._fields
            and bank_model._fields[name].store
            and bank_model._fields[name].type == "char"
        ]
        self.env.cr.execute(
            SQL(
                "UPDATE res_partner_bank SET active = FALSE, %s WHERE id = ANY(%s)",
                SQL(", ").join(columns),
                banks.ids,
            )
        )
        bank_model.invalidate_model()

    @api.model
    def _hk_erase_chatter(self, partners):
        """Empty the messages on the customers' record and the ones they wrote:
        body, subject, sender address; their attachments and tracked values go."""
        messages = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    "|",
                    "&",
                    ("model", "=", "res.partner"),
                    ("res_id", "in", partners.ids),
                    ("author_id", "in", partners.ids),
                ]
            )
        )
        if not messages:
            return
        messages.attachment_ids.unlink()
        self.env["mail.tracking.value"].sudo().search(
            [("mail_message_id", "in", messages.ids)]
        ).unlink()
        self.env["mail.message"].flush_model()
        self.env.cr.execute(
            SQL(
                """
            UPDATE mail_message
               SET body = '', subject = NULL, email_from = NULL, reply_to = NULL,
                   author_id = CASE WHEN author_id = ANY(%(ids)s) THEN NULL ELSE author_id END
             WHERE id = ANY(%(messages)s)
            """,
                ids=partners.ids,
                messages=messages.ids,
            )
        )
        self.env["mail.message"].invalidate_model()
        # the notifications and mail queue rows of these messages carry addresses
        self.env["mail.mail"].sudo().search([("mail_message_id", "in", messages.ids)]).unlink()

    def _hk_cancel_pending_messages(self):
        """Cancel what is queued for these customers and not sent yet: e-mails
        (mail.mail outgoing / in exception) and SMS (sms.sms outgoing / in error);
        the journeys' send logs of these messages are marked cancelled.
        Extended by the engagement capability (journey logs)."""
        if not self:
            return
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("state", "in", ("outgoing", "exception")),
                    "|",
                    ("recipient_ids", "in", self.ids),
                    "&",
                    ("model", "=", "res.partner"),
                    ("res_id", "in", self.ids),
                ]
            )
        )
        mails.write({"state": "cancel"})
        if "sms.sms" in self.env:
            self.env["sms.sms"].sudo().search(
                [("partner_id", "in", self.ids), ("state", "in", ("outgoing", "error"))]
            ).write({"state": "canceled"})

    def action_hk_anonymize_wizard(self):
        """Open the confirmation of the anonymization (irreversible)."""
        self._hk_check_anonymize()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Anonymize Customers"),
            "res_model": "housekeeping.partner.anonymize",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_ids": self.ids},
        }

    def write(self, vals):
        """An anonymized customer stays anonymous."""
        if (
            not is_open(ANONYMIZE)
            and set(vals) & {"name", "display_name", *PERSONAL_FIELDS}
            and self.filtered("hk_anonymized")
        ):
            raise UserError(
                self.env._("An anonymized customer cannot be given personal data again.")
            )
        return super().write(vals)
