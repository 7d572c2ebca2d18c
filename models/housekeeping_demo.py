"""Deterministic demo population (``--with-demo``): a story the dashboard can tell.

Called once from ``data/housekeeping_demo.xml``. Uses a fixed seed so every demo
database looks the same, and bulk creates so it finishes in seconds.
"""

import base64
import random
from datetime import datetime, timedelta

from odoo import Command, api, fields, models
from odoo.tools.misc import file_open

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "晓燕",
    "建华",
    "雪梅",
    "志强",
    "海燕",
    "丽娟",
    "俊杰",
    "欣怡",
    "子涵",
    "梓萱",
    "浩然",
    "雨桐",
    "一诺",
    "思远",
    "佳琪",
]
DISTRICTS = ["朝阳区", "海淀区", "东城区", "西城区", "丰台区", "通州区", "昌平区", "顺义区"]
COMMUNITIES = [
    "望京花园",
    "金隅丽港城",
    "远洋山水",
    "万科城市花园",
    "保利中央公园",
    "首开国风",
    "华润橡树湾",
]
CLEANERS = [
    "刘阿姨",
    "王阿姨",
    "张阿姨",
    "李师傅",
    "陈阿姨",
    "赵阿姨",
    "孙师傅",
    "周阿姨",
    "吴阿姨",
    "郑师傅",
    "黄阿姨",
    "何阿姨",
]


class HousekeepingDemo(models.AbstractModel):
    """The demo population (``data/housekeeping_demo.xml``, the test harness):
    customers, visits, complaints, ratings, rewards and a campaign, then the
    engines' first runs."""

    _name = "housekeeping.demo"
    _description = "Membership Demo Data"

    @api.model
    def _generate_demo_data(self, customers=200, seed=20261124):
        rng = random.Random(seed)
        env = self.env(
            context=dict(
                self.env.context,
                tracking_disable=True,
                mail_create_nolog=True,
                mail_notrack=True,
                hk_demo=True,
                hk_points_date_from_visit=True,
                # coupons of the history e-mail nobody (and render no PDF at install)
                loyalty_no_mail=True,
            )
        )
        # English and Chinese both installed: a database created in Chinese (`make
        # run` loads zh_CN) has no English otherwise, and English users fall back
        # to Chinese
        env["res.lang"]._activate_lang("en_US")
        zh = "zh_CN" if env["res.lang"]._lang_get("zh_CN") else None
        china = env.ref("base.cn")
        # A Beijing housekeeping company working in CNY; admin works in it.
        cny = env.ref("base.CNY")
        cny.active = True
        company = env["res.company"].create(
            {
                "name": "洁家家政服务（北京）有限公司",
                "currency_id": cny.id,
                "country_id": china.id,
                "city": "北京",
                "phone": "400-800-1234",
                # the portal and documents show it
                "logo": self._demo_logo(),
            }
        )
        if zh:
            # the company's language: its staff notes are Chinese (engines' rule)
            company.partner_id.lang = zh
        admin = env.ref("base.user_admin")
        admin.write({"company_ids": [(4, company.id)], "company_id": company.id})
        env = env(context=dict(env.context, allowed_company_ids=[company.id]))
        agent, manager = self._demo_staff(env, company, zh)
        beijing = env.ref("base.state_cn_BJ", raise_if_not_found=False)
        tags = env["housekeeping.household.tag"].search([])
        weekdays = env["housekeeping.weekday"].search([])
        service = {st.code: st for st in env["housekeeping.service.type"].search([])}
        cleaners = env["hr.employee"].create(
            [{"name": name, "company_id": company.id} for name in CLEANERS]
        )
        today = fields.Date.context_today(self)
        start = datetime.combine(today, datetime.min.time()) - timedelta(days=3 * 365)
        now = fields.Datetime.now()
        used_names = set()
        partner_vals = []
        cadences = []
        for i in range(customers):
            while True:
                name = rng.choice(SURNAMES) + rng.choice(GIVEN)
                if name not in used_names:
                    used_names.add(name)
                    break
            # weekly hourly cleaning 20%, monthly 32%, seasonal 15%, one-off 13%,
            # newcomers (first visit in the last weeks) 5%, prospects 5%, lapsed
            # (used to come, stopped) 10%
            cadence = rng.choices(
                ["weekly", "monthly", "seasonal", "oneoff", "newcomer", "prospect", "lapsed"],
                [20, 32, 15, 13, 5, 5, 10],
            )[0]
            cadences.append(cadence)
            partner_vals.append(
                {
                    "name": name,
                    "company_id": company.id,
                    # one customer in three is followed by the service agent
                    "user_id": agent.id if i % 3 == 0 else False,
                    "lang": zh or "en_US",
                    "tz": "Asia/Shanghai",
                    "country_id": china.id,
                    "state_id": beijing.id if beijing else False,
                    "city": "北京",
                    "street": f"{rng.choice(DISTRICTS)}{rng.choice(COMMUNITIES)}{rng.randint(1, 30)}号楼"
                    f"{rng.randint(1, 6)}单元{rng.randint(101, 2802)}",
                    "phone": f"1{rng.choice('3456789')}{rng.randint(0, 999999999):09d}",
                    "email": f"demo{i + 1:03d}@example.com",
                    "gender": rng.choice(["female", "female", "male"]),
                    "birthday": today.replace(year=today.year - rng.randint(25, 70))
                    - timedelta(days=rng.randint(0, 364)),
                    "acquisition_channel": rng.choice(
                        [
                            "wechat",
                            "wechat",
                            "mini_program",
                            "platform",
                            "store",
                            "phone",
                            "community",
                        ]
                    ),
                    "household_tag_ids": [(6, 0, rng.sample(tags.ids, rng.randint(0, 3)))],
                    "household_size": rng.randint(1, 6),
                    "home_area": rng.choice([60, 75, 89, 98, 120, 140, 180, 260]),
                    "home_type": rng.choice(["apartment"] * 6 + ["villa", "townhouse", "office"]),
                    "preferred_weekday_ids": [(6, 0, rng.sample(weekdays.ids, rng.randint(1, 2)))],
                    "preferred_time_window": rng.choice(["morning", "afternoon", "evening", "any"]),
                    "prefers_eco_products": rng.random() < 0.3,
                    "prefers_hypoallergenic": rng.random() < 0.15,
                    "is_prospect": cadence == "prospect",
                    # marketing consent (PIPL): three in four by e-mail, two in five by SMS
                    "consent_email": i % 4 != 0,
                    "consent_sms": i % 5 < 2,
                    "consent_source": ("form", "wechat", "store", "phone")[i % 4],
                    "special_instructions": rng.choice(
                        [
                            "",
                            "",
                            "钥匙在物业前台",
                            "家里有猫，请关好门",
                            "对消毒水过敏，请用环保清洁剂",
                            "地下车库B2可停车",
                        ]
                    ),
                }
            )
        partners = env["res.partner"].create(partner_vals)
        # a referral chain: every 10th customer was referred by the previous one
        for idx in range(10, customers, 10):
            partners[idx].write(
                {"referred_by_id": partners[idx - 1].id, "acquisition_channel": "referral"}
            )

        visit_vals = []
        prices = {
            "hourly": 150,
            "deep": 580,
            "appliance": 260,
            "glass": 300,
            "maternity": 12800,
            "nanny": 6800,
            "elderly_care": 400,
            "office": 900,
        }
        for partner, cadence in zip(partners, cadences, strict=True):
            if cadence == "prospect":
                continue
            first = start + timedelta(days=rng.randint(0, 900))
            dates = []
            if cadence == "newcomer":
                # one or two visits, the first of them within the last 60 days
                first = datetime.combine(today, datetime.min.time()) - timedelta(
                    days=rng.randint(10, 60)
                )
                dates = [(first, "hourly")]
                if rng.random() < 0.5:
                    dates.append((first + timedelta(days=rng.randint(5, 9)), "hourly"))
            elif cadence == "weekly":
                step, kind = 7, "hourly"
            elif cadence in ("monthly", "lapsed"):
                step, kind = 30, rng.choice(["hourly", "hourly", "glass", "elderly_care"])
            if cadence in ("weekly", "monthly", "lapsed"):
                stop = (
                    now
                    if cadence != "lapsed"
                    else min(now, first + timedelta(days=rng.randint(90, 300)))
                )
                day = first
                while day < stop:
                    dates.append((day, kind))
                    day += timedelta(days=step + rng.randint(-2, 3))
            elif cadence == "seasonal":
                # deep cleaning before Spring Festival (January) each year
                for year in range(start.year, today.year + 1):
                    day = datetime(year, 1, rng.randint(5, 25), 9)
                    if start <= day < now:
                        dates.append((day, "deep"))
            else:  # one-off
                dates.append((first, rng.choice(["deep", "appliance", "office", "maternity"])))
            for day, kind in dates:
                when = day.replace(hour=rng.choice([1, 2, 6, 7]), minute=0, second=0)
                if when >= now:
                    continue
                visit_vals.append(
                    {
                        "partner_id": partner.id,
                        "service_type_id": service[kind].id,
                        "date": when,
                        "duration": service[kind].default_duration,
                        "employee_id": rng.choice(cleaners).id,
                        "amount": prices[kind] * rng.choice([1, 1, 1, 0.9, 1.2]),
                        "payment_method": rng.choice(
                            ["wechat", "wechat", "alipay", "card", "prepaid", "cash"]
                        ),
                        "company_id": company.id,
                        "state": "done",
                        "done_date": when,
                    }
                )
        # upcoming visits for the regular customers, each in a free slot of a
        # cleaner (9:00, 12:00 or 15:00 Beijing time, 2 hours): booked visits are
        # checked for overlaps like any other
        slots = [
            (day, hour, cleaner)
            for day in range(1, 11)
            for hour in (1, 4, 7)
            for cleaner in cleaners
        ]
        rng.shuffle(slots)
        for partner, cadence in zip(partners, cadences, strict=True):
            if cadence in ("weekly", "monthly") and slots:
                day, hour, cleaner = slots.pop()
                when = now + timedelta(days=day)
                visit_vals.append(
                    {
                        "partner_id": partner.id,
                        "service_type_id": service["hourly"].id,
                        "date": when.replace(hour=hour, minute=0, second=0, microsecond=0),
                        "duration": service["hourly"].default_duration,
                        "employee_id": cleaner.id,
                        "amount": prices["hourly"],
                        "company_id": company.id,
                        "state": "scheduled",
                    }
                )
        # customers who pay from a prepaid balance topped it up first (储值)
        prepaid = {}
        for vals in visit_vals:
            if vals.get("payment_method") == "prepaid":
                prepaid[vals["partner_id"]] = prepaid.get(vals["partner_id"], 0) + vals["amount"]
        env["housekeeping.engine.prepaid"]._opening_balances(
            {pid: (int(total // 1000) + 1) * 1000 for pid, total in prepaid.items()},
            company,
            "充值 (demo)",
        )
        visits = env["housekeeping.visit"].create(visit_vals)
        done = visits.filtered(lambda v: v.state == "done")
        # a few complaints on recent visits
        recent = done.sorted("date")[-60:]
        complaints = env["housekeeping.complaint"].create(
            [
                {
                    "name": title,
                    "partner_id": visit.partner_id.id,
                    "visit_id": visit.id,
                    "employee_id": visit.employee_id.id,
                    "category": category,
                    "severity": severity,
                    "company_id": company.id,
                }
                for visit, (title, category, severity) in zip(
                    rng.sample(list(recent), 4),
                    [
                        ("厨房油污没有清理干净", "quality", "high"),
                        ("保洁员迟到40分钟", "punctuality", "medium"),
                        ("打碎了一个花瓶", "damage", "high"),
                        ("服务态度不好", "attitude", "low"),
                    ],
                    strict=True,
                )
            ]
        )
        # two of them were handled by named people: the agent resolved one, the
        # store manager the other (the two others are still open)
        for complaint, user, resolution in (
            (complaints[0], agent, "已安排保洁员免费返工，客户满意"),
            (complaints[2], manager, "按原价赔偿花瓶，并向客户致歉"),
        ):
            complaint = complaint.with_user(user)
            complaint.write({"user_id": user.id, "resolution": resolution})
            complaint.action_resolve()
        self._demo_holidays(env, company, zh)
        self._demo_story(env, partners, done, company, rng)
        # the demo portal customer: a weekly customer with a rich history
        portal_partner = partners[cadences.index("weekly")]
        env["res.users"].with_context(no_reset_password=True).create(
            {
                "name": portal_partner.name,
                "login": "customer",
                "password": "customer",
                "partner_id": portal_partner.id,
                "company_id": company.id,
                "company_ids": [(6, 0, company.ids)],
                "tz": "Asia/Shanghai",
                "group_ids": [(6, 0, [env.ref("base.group_portal").id])],
            }
        )
        env["ir.model.data"]._update_xmlids(
            [
                {
                    "xml_id": "housekeeping_membership.demo_portal_partner",
                    "record": portal_partner,
                    "noupdate": True,
                }
            ]
        )
        return partners

    @api.model
    def _demo_logo(self):
        with file_open("housekeeping_membership/static/img/demo_company_logo.png", "rb") as fh:
            return base64.b64encode(fh.read())

    @api.model
    def _demo_staff(self, env, company, zh):
        """The people who work with the customers, in Beijing time: the service
        agent 王客服 (login ``agent``, the company's service desk) and the store
        manager 李店长 (login ``manager``, a membership manager)."""
        employee = env.ref("base.group_user")
        users = (
            env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                [
                    {
                        "name": name,
                        "login": login,
                        "password": login,
                        "email": f"{login}@jiejia.example.com",
                        "tz": "Asia/Shanghai",
                        "lang": zh or "en_US",
                        "company_id": company.id,
                        "company_ids": [(6, 0, company.ids)],
                        "group_ids": [(6, 0, [employee.id, env.ref(group).id])],
                    }
                    for name, login, group in (
                        ("王客服", "agent", "housekeeping_membership.group_membership_user"),
                        ("李店长", "manager", "housekeeping_membership.group_membership_manager"),
                    )
                ]
            )
        )
        company.hk_service_desk_user_id = users[0]
        env["ir.model.data"]._update_xmlids(
            [
                {"xml_id": f"housekeeping_membership.{xml_id}", "record": user, "noupdate": True}
                for xml_id, user in zip(
                    ("demo_user_agent", "demo_user_manager"), users, strict=True
                )
            ]
        )
        return users

    # Chinese public holidays (国务院办公厅 notices): the holiday campaign's dates
    HOLIDAYS = {
        2026: (
            ("Spring Festival", "春节", "02-15", "02-23"),
            ("Qingming Festival", "清明节", "04-04", "04-06"),
            ("Labour Day", "劳动节", "05-01", "05-05"),
            ("Dragon Boat Festival", "端午节", "06-19", "06-21"),
            ("Mid-Autumn Festival", "中秋节", "09-25", "09-27"),
            ("National Day", "国庆节", "10-01", "10-07"),
        ),
        2027: (
            ("Spring Festival", "春节", "02-06", "02-12"),
            ("Qingming Festival", "清明节", "04-03", "04-05"),
            ("Labour Day", "劳动节", "05-01", "05-05"),
            ("Dragon Boat Festival", "端午节", "06-09", "06-11"),
            ("Mid-Autumn Festival", "中秋节", "09-15", "09-17"),
            ("National Day", "国庆节", "10-01", "10-07"),
        ),
    }

    @api.model
    def _demo_holidays(self, env, company, zh):
        """The company's public holidays of this year and the next, named in both
        languages, for the holiday campaign."""
        year = fields.Date.context_today(self).year
        rows = [
            (name, name_zh, f"{y}-{start}", f"{y}-{stop}")
            for y in (year, year + 1)
            for name, name_zh, start, stop in self.HOLIDAYS.get(y, ())
        ]
        holidays = env["housekeeping.holiday"].create(
            [
                {"name": name, "date_from": start, "date_to": stop, "company_id": company.id}
                for name, _name_zh, start, stop in rows
            ]
        )
        if zh:
            for holiday, (_name, name_zh, _start, _stop) in zip(holidays, rows, strict=True):
                holiday.with_context(lang=zh).name = name_zh
        return holidays

    @api.model
    def _demo_date_expiries(self, env, partners):
        """The history's lots expired as it was entered, all on the day of the
        install: date each expiry the day after its lot's expiry date, as the daily
        run would have, so that points expire month by month over the history (the
        dashboard's liability a month ago counts them then). Demo history only: the
        ledger is append-only, written here in SQL, like the stage logs."""
        env.flush_all()
        env.cr.execute(
            """
            UPDATE housekeeping_points_entry x
               SET date = LEAST(%(today)s::date, lot.expiry_date + 1)
              FROM housekeeping_points_entry lot
             WHERE x.origin_entry_id = lot.id AND x.entry_type = 'expire'
               AND lot.expiry_date IS NOT NULL AND x.partner_id = ANY(%(ids)s)
            """,
            {"today": fields.Date.context_today(self), "ids": partners.ids},
        )
        env["housekeeping.points.entry"].invalidate_model(["date"])

    @api.model
    def _demo_story(self, env, partners, done, company, rng):
        """Ratings, rewards and redemptions, a campaign, expired points, then the
        engines (RFM, tiers, lifecycle) so every stage and tier is populated."""
        visit_model = env["ir.model"]._get_id("housekeeping.visit")
        ratings = []
        for visit in done:
            if rng.random() < 0.6:
                score = rng.choices([5, 4, 3, 2, 1], [55, 30, 9, 4, 2])[0]
                ratings.append(
                    {
                        "res_model_id": visit_model,
                        "res_id": visit.id,
                        "partner_id": visit.partner_id.id,
                        "rated_partner_id": env.user.partner_id.id,
                        "rating": score,
                        "consumed": True,
                        "feedback": rng.choice(
                            ["", "", "很干净，谢谢！", "准时，专业", "有些角落没擦到"]
                        )
                        if score >= 3
                        else "不满意",
                    }
                )
        env["rating.rating"].sudo().create(ratings)
        # Odoo recomputes a visit's stored score when a rating is given through the
        # visit (rating_apply); ratings created directly, as here, need it asked for
        # (once their model is written: the compute reads it in SQL)
        env["rating.rating"].flush_model()
        env.add_to_compute(done._fields["rating_last_value"], done)
        coupons = env["loyalty.program"].with_context(default_program_type="coupons")
        # what the coupons give, as the portal shows them and the points liability
        # values them (a reward's value ÷ its points: ¥0.15 and ¥0.10 a point)
        free_hourly = coupons.create(
            {
                "name": "Free 2-hour hourly cleaning",
                "company_id": company.id,
                "reward_ids": [
                    Command.clear(),
                    Command.create(
                        {
                            "reward_type": "product",
                            "reward_product_id": env.ref(
                                "housekeeping_membership.product_service_hourly"
                            ).id,
                            "reward_product_qty": 2,
                            "required_points": 1,
                        }
                    ),
                ],
            }
        )
        fifty_off = coupons.create(
            {
                "name": "¥50 off orders over ¥500",
                "company_id": company.id,
                "rule_ids": [
                    Command.clear(),
                    Command.create(
                        {
                            "minimum_amount": 500,
                            "reward_point_mode": "order",
                            "reward_point_amount": 1,
                        }
                    ),
                ],
                "reward_ids": [
                    Command.clear(),
                    Command.create(
                        {
                            "reward_type": "discount",
                            "discount": 50,
                            "discount_mode": "per_order",
                            "required_points": 1,
                        }
                    ),
                ],
            }
        )
        rewards = env["housekeeping.reward"].create(
            [
                {
                    "name": "Free 2-hour cleaning",
                    "points_cost": 800,
                    "reward_type": "service",
                    "loyalty_program_id": free_hourly.id,
                    "company_id": company.id,
                },
                {
                    "name": "¥50 coupon",
                    "points_cost": 500,
                    "reward_type": "coupon",
                    "loyalty_program_id": fifty_off.id,
                    "company_id": company.id,
                },
                {
                    "name": "Eco cleaning kit",
                    "points_cost": 300,
                    "reward_type": "gift",
                    "stock_limit": 50,
                    "company_id": company.id,
                },
            ]
        )
        today = fields.Date.context_today(self)
        campaign = env["housekeeping.points.campaign"].create(
            {
                "name": "Spring Festival deep cleaning",
                "date_from": today.replace(month=1, day=5),
                "date_to": today.replace(month=2, day=10),
                "task": "visits",
                "service_type_id": env.ref("housekeeping_membership.service_type_deep").id,
                "visit_count": 1,
                "points": 300,
                "company_id": company.id,
            }
        )
        if env["res.lang"]._lang_get("zh_CN"):
            # the names in both languages, as the default data's
            for record, name in (
                (free_hourly, "免费钟点保洁2小时"),
                (fifty_off, "满500减50"),
                (rewards[0], "免费2小时保洁"),
                (rewards[1], "50元优惠券"),
                (rewards[2], "环保清洁套装"),
                (campaign, "春节深度保洁"),
            ):
                record.with_context(lang="zh_CN").name = name
            # what the coupons' rewards say (Odoo writes it from the product's name
            # in the language of the moment)
            free_hourly.reward_ids.with_context(lang="zh_CN").description = "免费钟点保洁 2 小时"
            fifty_off.reward_ids.with_context(lang="zh_CN").description = "满500减50"
        # points past their validity expire; a few customers redeem
        env["housekeeping.engine.points.expiry"]._cron()
        self._demo_date_expiries(env, partners)
        rich = partners.filtered(lambda p: p.points_balance >= 800)
        for partner in rng.sample(list(rich), min(len(rich), 12)):
            rng.choice(rewards).redeem(partner)
        env["housekeeping.engine.rfm"]._cron()
        env["housekeeping.engine.tier"]._cron()
        # (the lifecycle's notes in the company's language, as the other engines')
        staff_lang = env["housekeeping.engine"]._staff_lang(company)
        env["housekeeping.engine.lifecycle"].with_context(lang=staff_lang)._cron()
        # The evaluation above is the first one, so every change is dated today; date
        # the demo's stage changes when they would have happened, so that the
        # dashboard's "churned this month" and the transition reports tell a story.
        env.flush_all()
        env.cr.execute(
            """
            WITH d AS (
                SELECT p.id,
                       LEAST(%(today)s::date, CASE p.lifecycle_stage
                           WHEN 'churned' THEN p.last_visit_date
                                + GREATEST(round(COALESCE(p.visit_interval_days, 0) * 4)::int, 181)
                           WHEN 'at_risk' THEN p.last_visit_date
                                + COALESCE(NULLIF(round(p.visit_interval_days * 2)::int, 0), 46)
                           ELSE COALESCE(p.first_visit_date, %(today)s::date)
                       END) AS day
                  FROM res_partner p WHERE p.id = ANY(%(ids)s)
            ), logs AS (
                -- the change into the current stage on its day, earlier ones at the
                -- customer's first visit
                UPDATE housekeeping_stage_log l
                   SET date = CASE WHEN l.to_stage = p.lifecycle_stage THEN d.day
                                   ELSE LEAST(d.day, COALESCE(p.first_visit_date, d.day)) END
                  FROM d JOIN res_partner p ON p.id = d.id
                 WHERE l.partner_id = d.id
            )
            UPDATE res_partner p SET lifecycle_stage_date = d.day FROM d WHERE p.id = d.id
            """,
            {"today": today, "ids": partners.ids},
        )
        env["res.partner"].invalidate_model(["lifecycle_stage_date"])
        # tier changes happened over the years too: each one on the day the
        # customer had been a customer for a year (or today, if later)
        env.cr.execute(
            """
            UPDATE housekeeping_tier_log l
               SET date = LEAST(%(today)s::date,
                                COALESCE(p.first_visit_date, l.date) + 365 + (l.id %% 60))
              FROM res_partner p
             WHERE p.id = l.partner_id AND p.id = ANY(%(ids)s)
            """,
            {"today": today, "ids": partners.ids},
        )
        env["housekeeping.tier.log"].invalidate_model(["date"])
        # the upgrade gifts on the day of their upgrade, valid from then: those past
        # their validity expire, as they would have, on their day
        env.cr.execute(
            """
            UPDATE housekeeping_points_entry e
               SET date = l.date,
                   expiry_date = CASE WHEN %(months)s > 0
                                      THEN (l.date + make_interval(months => %(months)s))::date
                                 END
              FROM housekeeping_tier_log l
             WHERE e.reason_code = 'tier_gift' AND e.entry_type = 'earn'
               AND e.partner_id = ANY(%(ids)s) AND l.partner_id = e.partner_id
               AND l.direction = 'up'
               AND l.to_tier_id = split_part(e.source_key, ':', 3)::int
         RETURNING e.id, e.expiry_date
            """,
            {"months": company.hk_points_validity_months, "ids": partners.ids},
        )
        past = [lot_id for lot_id, expiry in env.cr.fetchall() if expiry and expiry < today]
        Entry = env["housekeeping.points.entry"].sudo()
        Entry.invalidate_model(["date", "expiry_date"])
        if past:
            Entry._expire_lots_after(today, len(past), lot_ids=past)
            self._demo_date_expiries(env, partners)
        # the store manager confirmed the churn reason of some churned customers
        churned = partners.filtered(lambda p: p.lifecycle_stage == "churned")
        reasons = env["housekeeping.churn.reason"].search([], order="sequence, id")
        if churned and reasons:
            picked = churned[::2]
            for n, partner in enumerate(picked):
                if not partner.churn_reason_id:
                    partner.churn_reason_id = reasons[n % len(reasons)]
            picked.action_confirm_churn_reason()
        if "housekeeping.journey" in env:
            env["housekeeping.engine.vip"]._cron()
            env["housekeeping.journey"]._cron_run_journeys()
            # the messages went out three weeks ago, and one customer in three came
            # back after the wake-up message: the journeys show their conversion
            sends = env["housekeeping.journey.send"].search(
                [("partner_id", "in", partners.ids)], order="id"
            )
            env.cr.execute(
                "UPDATE housekeeping_journey_send SET date = date - interval '21 days' "
                "WHERE id = ANY(%s)",
                [sends.ids],
            )
            sends.invalidate_recordset(["date"])
            back = sends.filtered(lambda s: s.journey_id.trigger == "wake_up")[::3]
            hourly = env.ref("housekeeping_membership.service_type_hourly")
            cleaners = env["hr.employee"].search([("company_id", "=", company.id)], order="id")
            now = fields.Datetime.now()
            comeback = env["housekeeping.visit"].create(
                [
                    {
                        "partner_id": send.partner_id.id,
                        "service_type_id": hourly.id,
                        "date": now - timedelta(days=7 + n % 7),
                        "duration": hourly.default_duration,
                        "employee_id": rng.choice(cleaners).id,
                        "amount": 150,
                        "payment_method": "wechat",
                        "company_id": company.id,
                    }
                    for n, send in enumerate(back)
                ]
            )
            comeback.action_done()
