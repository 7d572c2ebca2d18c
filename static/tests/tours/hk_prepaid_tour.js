import { registry } from "@web/core/registry";

/** At the counter (tests/test_prepaid.py, TestPrepaidTour): a service agent sells
 * the customer a top-up of 1000 with a bonus of 200, then records a visit of 120
 * paid from the balance and completes it. */
registry.category("web_tour.tours").add("hk_prepaid_counter_tour", {
    steps: () => [
        {
            content: "The customer has no prepaid balance yet",
            trigger: ".oe_stat_button[name='action_view_prepaid_entries'] .o_stat_value:contains('0.00')",
        },
        {
            content: "Sell a top-up",
            trigger: ".o_form_view button[name='action_prepaid_topup']",
            run: "click",
        },
        {
            content: "Choose the offer",
            trigger: ".modal div[name='offer_id'] input",
            run: "edit 充1000送200",
        },
        {
            content: "Pick it in the dropdown",
            trigger: ".o-autocomplete--dropdown-item a:contains('充1000送200')",
            run: "click",
        },
        {
            content: "Confirm: the order is confirmed and the balance credited",
            trigger: ".modal button[name='action_apply']",
            run: "click",
        },
        {
            content: "The balance is the principal and the bonus",
            trigger: ".oe_stat_button[name='action_view_prepaid_entries'] .o_stat_value:contains('1,200.00')",
        },
        {
            content: "Open the Visits tab",
            trigger: ".o_notebook_headers a[name='housekeeping_visits']",
            run: "click",
        },
        {
            content: "Add a visit",
            trigger: "div[name='visit_ids'] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            content: "Choose the service type",
            trigger: "div[name='visit_ids'] .o_data_row td[name='service_type_id'] input",
            run: "edit Hourly Cleaning",
        },
        {
            content: "Pick it in the dropdown",
            trigger: ".o-autocomplete--dropdown-item a:contains('Hourly Cleaning')",
            run: "click",
        },
        {
            content: "Enter the amount",
            trigger: "div[name='visit_ids'] .o_data_row td[name='amount'] input",
            run: "edit 120",
        },
        {
            content: "Open the payment methods",
            trigger: "div[name='visit_ids'] .o_data_row td[name='payment_method'] .o_select_menu_toggler",
            run: "click",
        },
        {
            content: "Paid from the prepaid balance",
            trigger: ".o_select_menu_item:contains('Prepaid Balance')",
            run: "click",
        },
        {
            content: "Save the customer",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_saved",
        },
        {
            content: "Complete the visit from its row",
            trigger: "div[name='visit_ids'] .o_data_row button[name='action_done']",
            run: "click",
        },
        {
            content: "The visit was paid from the balance",
            trigger: ".oe_stat_button[name='action_view_prepaid_entries'] .o_stat_value:contains('1,080.00')",
        },
    ],
});

/** On the portal, on a phone (tests/test_prepaid.py, TestPrepaidPortalTour): the
 * customer opens the membership page and sees the prepaid balance, its principal
 * and bonus apart, and the visit packages with the visits left. */
registry.category("web_tour.tours").add("hk_prepaid_portal_tour", {
    steps: () => [
        {
            content: "The membership page, on a phone's screen",
            trigger: ".o_hk_tier_card",
            run() {
                if (window.innerWidth !== 390) {
                    throw new Error(`expected a 390 px wide viewport, got ${window.innerWidth}`);
                }
            },
        },
        {
            content: "The prepaid balance: principal and bonus",
            trigger: ".o_hk_prepaid_card .o_hk_prepaid_balance:contains('1,080.00')",
        },
        {
            content: "The principal and the bonus apart",
            trigger: ".o_hk_prepaid_split:contains('900.00'):contains('180.00')",
        },
        {
            content: "The package of deep cleanings, one visit used",
            trigger: ".o_hk_packages .o_hk_package:contains('Deep') .o_hk_package_left:contains('4')",
        },
        {
            content: "The card fits the phone's screen",
            trigger: ".o_hk_prepaid_card",
            run() {
                const card = document.querySelector(".o_hk_prepaid_card");
                const box = card.getBoundingClientRect();
                if (box.left < 0 || box.right > window.innerWidth + 0.5) {
                    throw new Error(`the prepaid card overflows: ${box.left}–${box.right}`);
                }
                const packages = card.querySelectorAll(".o_hk_package");
                if (packages.length !== 1) {
                    throw new Error(`expected one package, got ${packages.length}`);
                }
            },
        },
    ],
});

/** Split payment at the counter (tests/test_prepaid.py, TestPrepaidSplitTour): a
 * visit of 300 takes 120 from the balance and the rest, 180, in cash. */
registry.category("web_tour.tours").add("hk_prepaid_split_tour", {
    steps: () => [
        {
            content: "The part paid from the balance shows only for the prepaid method",
            trigger: ".o_form_view:not(:has(div[name='prepaid_amount'] input))",
        },
        {
            content: "Open the payment methods",
            trigger: "div[name='payment_method'] .o_select_menu_toggler",
            run: "click",
        },
        {
            content: "Paid from the prepaid balance",
            trigger: ".o_select_menu_item:contains('Prepaid Balance')",
            run: "click",
        },
        {
            content: "Only 120 from the balance",
            trigger: "div[name='prepaid_amount'] input",
            run: "edit 120 && click body",
        },
        {
            content: "The rest to pay",
            trigger: "div[name='amount_rest']:contains('180.00')",
        },
        {
            content: "Open the methods of the rest",
            trigger: "div[name='payment_method_rest'] .o_select_menu_toggler",
            run: "click",
        },
        {
            content: "The rest in cash",
            trigger: ".o_select_menu_item:contains('Cash')",
            run: "click",
        },
        {
            content: "Complete the visit",
            trigger: ".o_form_view button[name='action_done']",
            run: "click",
        },
        {
            content: "Done, the part kept read-only",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Done')",
        },
        {
            trigger: ".o_form_view div[name='prepaid_amount']:not(:has(input))",
        },
    ],
});
