# Steps of `make test-cycle`, run inside `odoo shell` (stdin): `env` is given.
# The step comes from HK_CYCLE_STEP: `data` (demo customers and crons), `check-data`
# (after -u, the data is still there), `uninstall` (button_immediate_uninstall then
# leftovers), `check-installed` (after a reinstall). Prints CYCLE-OK on success;
# any failed check raises (the harness then fails).
# ruff: noqa: F821 (env is given by odoo shell)
import os

import odoo

MODULE = "housekeeping_membership"
STEP = os.environ["HK_CYCLE_STEP"]


def fetch(cr, query, *params):
    cr.execute(query, params)
    return cr.fetchall()


def leftovers(cr):
    """What of the module is still in the database, per kind (empty when clean)."""
    found = {}
    checks = {
        "ir_model_data": "SELECT model || ',' || name FROM ir_model_data WHERE module = %s",
        "ir_model": "SELECT model FROM ir_model WHERE model LIKE 'housekeeping.%%'",
        "ir_model_fields": (
            "SELECT f.model || '.' || f.name FROM ir_model_fields f"
            " JOIN ir_model_data d ON d.model = 'ir.model.fields' AND d.res_id = f.id"
            " WHERE d.module = %s"
        ),
        "ir_model_fields (hk names)": (
            "SELECT model || '.' || name FROM ir_model_fields"
            " WHERE model LIKE 'housekeeping.%%'"
            " OR (model = 'res.partner' AND name IN ('lifecycle_stage', 'membership_tier_id',"
            " 'points_balance', 'visit_ids', 'consent_email', 'hk_anonymized'))"
        ),
        "ir_ui_menu": (
            "SELECT m.id::text FROM ir_ui_menu m"
            " WHERE m.name->>'en_US' ILIKE 'Membership%%' AND m.parent_id IS NULL"
        ),
        "ir_cron": "SELECT cron_name FROM ir_cron WHERE cron_name LIKE 'Membership:%%'",
        "ir_ui_view": "SELECT key FROM ir_ui_view WHERE key LIKE %s",
        "ir_act_window": "SELECT res_model FROM ir_act_window WHERE res_model LIKE 'housekeeping.%%'",
        "ir_act_server": (
            "SELECT name->>'en_US' FROM ir_act_server"
            " WHERE code LIKE '%%_hk_%%' OR code LIKE '%%action_hk_%%'"
        ),
        "tables": (
            "SELECT relname FROM pg_class WHERE relname LIKE 'housekeeping\\_%%'"
            " AND relkind IN ('r', 'v', 'm')"
        ),
        "res_partner columns": (
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'res_partner' AND column_name IN"
            " ('lifecycle_stage', 'membership_tier_id', 'points_balance', 'visit_count',"
            " 'consent_email', 'hk_anonymized', 'tier_agent_id', 'referral_code')"
        ),
        "ir_config_parameter": (
            "SELECT key FROM ir_config_parameter WHERE key LIKE 'housekeeping_membership.%%'"
        ),
        # (a trigger left on res_partner would fail every change of a customer)
        "triggers": "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'housekeeping\\_%%'",
        "functions": "SELECT proname FROM pg_proc WHERE proname LIKE 'housekeeping\\_%%'",
    }
    for kind, query in checks.items():
        params = []
        if "%s" in query:
            params = [f"{MODULE}.%" if kind == "ir_ui_view" else MODULE]
        rows = fetch(cr, query, *params)
        if rows:
            found[kind] = sorted(str(r[0]) for r in rows)[:20]
    return found


def step_data():
    env["housekeeping.demo"]._generate_demo_data(customers=40)
    for xmlid in (
        "ir_cron_lifecycle_evaluate",
        "ir_cron_tier_evaluate",
        "ir_cron_points_expire",
        "ir_cron_birthday",
    ):
        cron = env.ref(f"{MODULE}.{xmlid}")
        env["ir.cron"].browse(cron.id).method_direct_trigger()
    env.cr.commit()
    counts = fetch(
        env.cr,
        "SELECT (SELECT count(*) FROM housekeeping_visit),"
        " (SELECT count(*) FROM housekeeping_points_entry)",
    )[0]
    assert counts[0] > 0 and counts[1] > 0, counts
    print("data:", counts)


def step_check_data():
    module = env["ir.module.module"].search([("name", "=", MODULE)])
    assert module.state == "installed", module.state
    visits, entries, balance_ok = fetch(
        env.cr,
        "SELECT (SELECT count(*) FROM housekeeping_visit),"
        " (SELECT count(*) FROM housekeeping_points_entry),"
        " NOT EXISTS (SELECT 1 FROM res_partner p WHERE p.points_balance !="
        " (SELECT COALESCE(sum(points), 0) FROM housekeeping_points_entry e"
        "   WHERE e.partner_id = p.id))",
    )[0]
    assert visits > 0 and entries > 0, (visits, entries)
    assert balance_ok, "a balance differs from its ledger after the upgrade"
    for xmlid in ("ir_cron_lifecycle_evaluate", "ir_cron_tier_evaluate", "ir_cron_birthday"):
        assert env.ref(f"{MODULE}.{xmlid}", raise_if_not_found=False), xmlid
    print("after -u:", visits, "visits,", entries, "ledger entries")


def step_uninstall():
    module = env["ir.module.module"].search([("name", "=", MODULE)])
    assert module.state == "installed", module.state
    dbname = env.cr.dbname
    module.button_immediate_uninstall()
    registry = odoo.modules.registry.Registry(dbname)
    with registry.cursor() as cr:
        state = fetch(cr, "SELECT state FROM ir_module_module WHERE name = %s", MODULE)[0][0]
        assert state == "uninstalled", state
        found = leftovers(cr)
        # the customers that were members are still written (and deleted) as contacts
        cr.execute("SELECT id FROM res_partner ORDER BY id DESC LIMIT 1")
        cr.execute("UPDATE res_partner SET active = active WHERE id = %s", cr.fetchone())
        cr.rollback()
    assert not found, f"left after uninstall: {found}"
    print("uninstalled cleanly")


def step_check_installed():
    module = env["ir.module.module"].search([("name", "=", MODULE)])
    assert module.state == "installed", module.state
    for xmlid in (
        "ir_cron_lifecycle_evaluate",
        "ir_cron_tier_evaluate",
        "ir_cron_points_expire",
        "ir_cron_birthday",
        "group_membership_manager",
    ):
        assert env.ref(f"{MODULE}.{xmlid}", raise_if_not_found=False), xmlid
    # the engines run on the reinstalled module (customers of before included)
    env["res.partner"]._cron_evaluate_lifecycle()
    env["res.partner"]._cron_evaluate_tiers()
    partner = env["res.partner"].create({"name": "Reinstalled customer", "is_prospect": True})
    env["housekeeping.engine.points"]._grant_points(partner, 10, "goodwill", origin="cycle")
    assert partner.points_balance == 10, partner.points_balance
    env.cr.rollback()
    print("reinstalled")


{
    "data": step_data,
    "check-data": step_check_data,
    "uninstall": step_uninstall,
    "check-installed": step_check_installed,
}[STEP]()
print("CYCLE-OK")
