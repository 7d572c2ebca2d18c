import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

tours.add("hk_portal_check_in_tour", {
    steps: () => [
        {
            content: "The membership page shows the balance",
            trigger: ".o_hk_balance:contains('120')",
        },
        {
            content: "Check in",
            trigger: "button.o_hk_check_in:enabled",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Points credited, button disabled for today",
            trigger: ".o_hk_message:contains('Checked in')",
        },
        {
            trigger: "button.o_hk_check_in:disabled",
        },
        {
            trigger: ".o_hk_balance:contains('125')",
        },
    ],
});

tours.add("hk_portal_redeem_tour", {
    steps: () => [
        {
            content: "Open the reward",
            trigger: ".o_hk_reward:contains('$20 coupon') summary.o_hk_redeem",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".o_hk_reward:contains('$20 coupon') .o_hk_redeem_confirm",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The coupon code is shown at once",
            trigger: ".o_hk_message:contains('coupon code')",
        },
        {
            trigger: ".o_hk_coupon_code",
        },
    ],
});

tours.add("hk_portal_preferences_tour", {
    steps: () => [
        {
            trigger: "input[name='household_size']",
            run: "edit 3",
        },
        {
            trigger: "input[name='home_area']",
            run: "edit 75",
        },
        {
            trigger: "select[name='preferred_time_window']",
            run: "select afternoon",
        },
        {
            trigger: "input[name='prefers_hypoallergenic']",
            run: "click",
        },
        {
            trigger: "button.o_hk_save_preferences",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Saved",
            trigger: ".o_hk_message:contains('Preferences saved')",
        },
        {
            trigger: "input[name='household_size'][value='3']",
        },
    ],
});

tours.add("hk_portal_rate_visit_tour", {
    steps: () => [
        {
            content: "Give 5 stars to the past visit",
            trigger: ".o_hk_past_visit .o_hk_rate_form label:contains('5')",
            run: "click",
        },
        {
            trigger: ".o_hk_past_visit input[name='comment']",
            run: "edit Very clean, thank you",
        },
        {
            trigger: ".o_hk_past_visit .o_hk_rate_form button[type='submit']",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Thanked, and the rating is shown",
            trigger: ".o_hk_message:contains('Thank you')",
        },
        {
            trigger: ".o_hk_past_visit:contains('5/5')",
        },
    ],
});

tours.add("hk_portal_referral_page_tour", {
    steps: () => [
        {
            content: "Viewing the page writes nothing: the code comes from its button",
            trigger: "button.o_hk_get_referral_code",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The code and its link are shown",
            trigger: ".o_hk_referral_code",
        },
        {
            trigger: ".o_hk_share_url",
        },
        {
            content: "A QR code of the link, to save or show",
            trigger: "img.o_hk_referral_qr",
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
    ],
});

for (const [name, selector] of [
    ["hk_portal_points_page_tour", ".o_hk_points_list"],
    ["hk_portal_rewards_page_tour", ".o_hk_reward"],
]) {
    tours.add(name, {
        steps: () => [{ content: "The page is shown", trigger: selector }],
    });
}
