import { registry } from "@web/core/registry";

/**
 * A working day per role, in Chinese (issue 28), on the data of
 * tests/test_role_tours.py, which asserts the database after each tour.
 * Triggers name classes, field names and data attributes; each tour checks one
 * Chinese text to show that the interface is in Chinese.
 */
const tours = registry.category("web_tour.tours");

const saveForm = () => [
    {
        content: "Save",
        trigger: ".o_form_button_save:enabled",
        run: "click",
    },
    {
        content: "Saved",
        trigger: ".o_form_view .o_form_saved",
    },
];

/** Open a menu of the current app: its section, then the item. */
const openMenu = (section, item) => [
    {
        content: `Open the ${section} menu`,
        trigger: `.o_menu_sections [data-menu-xmlid='housekeeping_membership.${section}']`,
        run: "click",
    },
    {
        content: `Choose ${item}`,
        trigger: `[data-menu-xmlid='housekeeping_membership.${item}']`,
        run: "click",
    },
];

const statusIs = (state) =>
    `.o_field_statusbar button[data-value='${state}'][aria-checked='true']`;

// ------------------------------------------------------------------ the manager
tours.add("hk_role_manager_tour", {
    steps: () => [
        {
            content: "The overview opens, in Chinese",
            trigger: ".o_hk_dashboard h2:contains(会员概览)",
        },
        {
            content: "Three customers at risk",
            trigger: ".o_hk_kpi[data-kpi='at_risk'] .o_hk_kpi_value:text(3)",
        },
        {
            content: "Open the customers at risk",
            trigger: ".o_hk_kpi[data-kpi='at_risk']",
            run: "click",
        },
        {
            content: "The three customers the card counts are listed",
            trigger: ".o_list_renderer:has(.o_data_row:eq(2)):not(:has(.o_data_row:eq(3)))",
        },
        {
            content: "Open one of them",
            trigger: ".o_data_row td[name='complete_name']:contains('Zhao Min')",
            run: "click",
        },
        {
            content: "The churn reason is asked for a customer at risk only",
            trigger: ".o_form_view div[name='churn_reason_id'] input",
            run: "edit Too expensive",
        },
        {
            content: "Pick the reason",
            trigger: ".o-autocomplete--dropdown-item a:contains('Too expensive')",
            run: "click",
        },
        ...saveForm(),
        {
            content: "The reason's win-back playbook planned its first step",
            trigger: ".o-mail-Chatter .o-mail-Activity:contains('Targeted package offer')",
        },
        {
            content: "Plan a callback too",
            trigger: ".o_form_view button[name='action_schedule_callback']",
            run: "click",
        },
        {
            content: "Two activities planned: the playbook's and the callback",
            trigger: ".o-mail-Chatter .o-mail-ActivityList:has(.o-mail-Activity:eq(1))",
        },
        ...openMenu("menu_config", "menu_config_settings"),
        {
            content: "From the lifecycle settings, preview a rule change",
            trigger: "button[name='action_hk_preview_lifecycle']",
            run: "click",
        },
        {
            content: "At risk after 25 days without a visit (instead of 45)",
            trigger: ".modal .o_field_widget[name='hk_at_risk_floor_days'] input",
            run: "edit 25",
        },
        {
            content: "Preview (read-only: the wizard is not saved)",
            trigger: ".modal .o_hk_preview_button:enabled",
            run: "click",
        },
        {
            content: "The preview counts the customers who would move",
            trigger: ".modal .o_hk_preview_line[data-to-stage='at_risk'] .o_hk_to_stage",
        },
        {
            trigger: ".modal .o_hk_preview_summary:not([data-moved-count='0'])",
        },
        {
            content: "Save these rules",
            trigger: ".modal button[name='action_apply']",
            run: "click",
        },
        {
            content: "The wizard is closed",
            trigger: "body:not(:has(.modal))",
        },
    ],
});

// ------------------------------------------------------------------ the service agent
tours.add("hk_role_agent_tour", {
    steps: () => [
        {
            content: "The customers, in Chinese",
            trigger: ".o_breadcrumb:contains(客户)",
        },
        {
            content: "A caller: type the number they call from",
            trigger: ".o_searchview_input",
            run: "edit 13800138000",
        },
        {
            content: "Search it as a name or phone (the first proposal)",
            trigger: ".o_searchview_autocomplete",
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            content: "One customer has that number",
            trigger: ".o_searchview_facet:contains(13800138000)",
        },
        {
            trigger:
                ".o_list_renderer:has(.o_data_row td[name='complete_name']:contains('Li Na')):not(:has(.o_data_row:eq(1)))",
        },
        {
            content: "Open the caller",
            trigger: ".o_data_row td[name='complete_name']:contains('Li Na')",
            run: "click",
        },
        {
            content: "Their visits",
            trigger: ".o_form_view button[name='action_view_visits']",
            run: "click",
        },
        {
            content: "Book a visit",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "For the caller",
            trigger: ".o_form_view .o_field_widget[name='partner_id'] input:value('Li Na')",
        },
        {
            content: "Choose the service",
            trigger: ".o_field_widget[name='service_type_id'] input",
            run: "edit RT Window",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains('RT Window')",
            run: "click",
        },
        {
            content: "The service's default duration fills the visit: 3.5 hours",
            trigger: ".o_field_widget[name='duration'] input:value('03:30')",
        },
        {
            content: "An hour ago",
            trigger: ".o_field_widget[name='date'] input",
            run: "edit -1H && press Escape",
        },
        {
            trigger: ".o_field_widget[name='amount'] input",
            run: "edit 260",
        },
        {
            content: "Book it",
            trigger: ".o_form_view button[name='action_schedule']",
            run: "click",
        },
        {
            content: "Booked",
            trigger: statusIs("scheduled"),
        },
        {
            content: "The cleaner is back: complete the visit",
            trigger: ".o_form_view button[name='action_done']",
            run: "click",
        },
        {
            content: "Done",
            trigger: statusIs("done"),
        },
        ...openMenu("menu_customers_root", "menu_complaints"),
        {
            content: "The complaint a low rating opened",
            trigger: ".o_data_row td[name='name']",
            run: "click",
        },
        {
            content: "It is assigned to the agent",
            trigger: ".o_form_view .o_field_widget[name='user_id'] input:value('Agent Lin')",
        },
        {
            trigger: ".o_notebook_headers a[name='resolution']",
            run: "click",
        },
        {
            content: "What was done for the customer",
            trigger: ".o_field_widget[name='resolution'] textarea",
            run: "edit Free re-cleaning by a senior cleaner; customer satisfied",
        },
        {
            content: "Resolve",
            trigger: ".o_form_view button[name='action_resolve']",
            run: "click",
        },
        {
            content: "Resolved",
            trigger: statusIs("resolved"),
        },
    ],
});

// ------------------------------------------------------------------ the customer (portal, phone)
tours.add("hk_role_customer_tour", {
    steps: () => [
        {
            content: "The member card: tier and points, on a phone's screen",
            trigger: ".o_hk_tier_card .o_hk_balance",
            run() {
                if (window.innerWidth !== 390) {
                    throw new Error(`expected a 390 px wide viewport, got ${window.innerWidth}`);
                }
            },
        },
        {
            content: "Check in",
            trigger: "button.o_hk_check_in:enabled",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Points credited",
            trigger: ".o_hk_message",
        },
        {
            content: "Once a day",
            trigger: "button.o_hk_check_in:disabled",
        },
        {
            content: "The rewards",
            trigger: "nav.nav-pills a[href='/my/rewards']",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The coupon shows its conditions before it is redeemed",
            trigger: ".o_hk_reward:has(.o_hk_reward_terms) summary.o_hk_redeem",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".o_hk_reward:has(.o_hk_reward_terms) .o_hk_redeem_confirm",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The coupon and its conditions, in Chinese",
            trigger: ".o_hk_coupon .o_hk_coupon_terms:contains(满500减50)",
        },
        {
            content: "Its code, at once",
            trigger: ".o_hk_coupon .o_hk_coupon_code",
        },
        {
            content: "Invite friends",
            trigger: "nav.nav-pills a[href='/my/referral']",
            run: "click",
            expectUnloadPage: true,
        },
        {
            trigger: "button.o_hk_get_referral_code",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The code",
            trigger: ".o_hk_referral_code",
        },
        {
            content: "Its QR code, drawn (Odoo's barcode route)",
            trigger: "img.o_hk_referral_qr",
            async run({ waitUntil }) {
                await waitUntil(() => this.anchor.complete && this.anchor.naturalWidth > 0);
            },
        },
        {
            content: "And the link to share",
            trigger: "input.o_hk_share_url:value('/housekeeping/ref/')",
        },
        {
            content: "Copy the link",
            trigger: "button.o_hk_copy",
            run: "click",
        },
        {
            content: "Copied, or the link selected where the clipboard is refused",
            trigger: ".o_hk_copied_label:not(.d-none), .o_hk_share_url:focus",
        },
        {
            content: "Back to the overview",
            trigger: "nav.nav-pills a[href='/my/membership']",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "My visits",
            trigger: ".o_hk_portal a.list-group-item[href='/my/visits']",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Four stars for the last visit",
            trigger: ".o_hk_past_visit .o_hk_rate_form label[for$='_4']",
            run: "click",
        },
        {
            trigger: ".o_hk_past_visit .o_hk_rate_form input[name='comment']",
            run: "edit Spotless and on time",
        },
        {
            trigger: ".o_hk_past_visit .o_hk_rate_form button[type='submit']",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Thanked",
            trigger: ".o_hk_message",
        },
        {
            content: "Rated once: the form is gone",
            trigger: ".o_hk_past_visit:not(:has(.o_hk_rate_form))",
        },
        {
            trigger: "body:not(:has(.o_hk_rate_form))",
        },
    ],
});
