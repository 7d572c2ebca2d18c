import { registry } from "@web/core/registry";

/**
 * The Preview Rule Change dialog previews without saving the wizard (its widget
 * calls the read-only get_preview), on the data of
 * tests/test_lifecycle_preview_widget.py: two customers with two visits each, new
 * while three visits make a customer loyal, loyal with two.
 */
registry.category("web_tour.tours").add("hk_lifecycle_preview_tour", {
    steps: () => [
        {
            content: "The dialog opens with the company's thresholds",
            trigger: ".modal .o_field_widget[name='hk_new_min_visits'] input:value(3)",
        },
        {
            content: "No object button saves the wizard to preview it",
            trigger: ".modal:not(:has(button[name='action_preview']))",
        },
        {
            content: "Preview the current rules: nobody moves",
            trigger: ".modal .o_hk_preview_button:enabled",
            run: "click",
        },
        {
            trigger: ".modal .o_hk_preview_summary[data-moved-count='0']",
        },
        {
            content: "Two visits make a customer loyal",
            trigger: ".modal .o_field_widget[name='hk_new_min_visits'] input",
            run: "edit 2",
        },
        {
            content: "Preview (the value typed counts, not saved)",
            trigger: ".modal .o_hk_preview_button:enabled",
            run: "click",
        },
        {
            content: "Two customers would move",
            trigger:
                ".modal .o_hk_preview_summary[data-moved-count='2']:contains(2 customers would change stage with the interval rules)",
        },
        {
            content: "From new to loyal, with the stages' labels",
            trigger:
                ".modal .o_hk_preview_line[data-from-stage='new'][data-to-stage='loyal']:has(.o_hk_from_stage:text(New)):has(.o_hk_to_stage:text(Loyal)):has(.o_hk_count:text(2))",
        },
        {
            content: "One line only",
            trigger: ".modal .o_hk_preview_lines tbody:not(:has(tr:eq(1)))",
        },
        {
            trigger: ".modal:not(:has(.o_hk_preview_stale))",
        },
        {
            content: "Back to three visits",
            trigger: ".modal .o_field_widget[name='hk_new_min_visits'] input",
            run: "edit 3",
        },
        {
            content: "Leave the field",
            trigger: ".modal .o_field_widget[name='hk_new_max_days'] input",
            run: "click",
        },
        {
            content: "The preview shown is of the former rules",
            trigger: ".modal .o_hk_preview_stale",
        },
        {
            content: "Close: nothing saved",
            trigger: ".modal .modal-footer button[special='cancel']",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});
