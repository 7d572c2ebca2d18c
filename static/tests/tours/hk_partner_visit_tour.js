import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("hk_partner_visit_tour", {
    steps: () => [
        {
            content: "The customer form shows the visit counter",
            trigger: ".o_form_view .oe_stat_button:contains('Visits')",
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
            run: "edit Deep Cleaning",
        },
        {
            content: "Pick it in the dropdown",
            trigger: ".o-autocomplete--dropdown-item a:contains('Deep Cleaning')",
            run: "click",
        },
        {
            content: "Enter the amount",
            trigger: "div[name='visit_ids'] .o_data_row td[name='amount'] input",
            run: "edit 388",
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
            content: "The visit is done and counted on the customer",
            trigger: ".oe_stat_button:contains('Visits') .o_stat_value:contains('1')",
        },
    ],
});
