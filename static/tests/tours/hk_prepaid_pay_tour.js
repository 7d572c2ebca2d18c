import { registry } from "@web/core/registry";

/** On the portal, on a phone (tests/test_prepaid_points_portal.py,
 * TestPayInAdvanceTour): the customer pays a visit to come from the prepaid
 * balance; the visit then shows as paid and the balance left is told. */
registry.category("web_tour.tours").add("hk_prepaid_pay_tour", {
    steps: () => [
        {
            content: "The button of the visit to come fits the phone's screen",
            trigger: ".o_hk_upcoming_visit .o_hk_pay_balance:contains('120.00')",
            run() {
                if (window.innerWidth !== 390) {
                    throw new Error(`expected a 390 px wide viewport, got ${window.innerWidth}`);
                }
                const box = document.querySelector(".o_hk_pay_balance").getBoundingClientRect();
                if (box.left < 0 || box.right > window.innerWidth + 0.5 || box.height < 28) {
                    throw new Error(`the button does not fit: ${box.left}–${box.right}, ${box.height}`);
                }
            },
        },
        {
            content: "The balance is shown under the button",
            trigger: ".o_hk_pay_balance_left:contains('300.00')",
        },
        {
            content: "Pay from balance",
            trigger: ".o_hk_upcoming_visit .o_hk_pay_balance",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Paid, the balance left told",
            trigger: ".o_hk_message:contains('120.00'):contains('180.00')",
        },
        {
            content: "The visit shows as paid, without the button",
            trigger: ".o_hk_upcoming_visit .o_hk_paid_from_balance:contains('120.00')",
            run() {
                if (document.querySelector(".o_hk_pay_balance")) {
                    throw new Error("the paid visit still offers to pay");
                }
            },
        },
    ],
});
