import { registry } from "@web/core/registry";

/** Values of the dataset of tests/test_reports.py (TestDashboardTour), as computed
 * by housekeeping.dashboard.get_dashboard_data() and asserted there. */
const EXPECTED = {
    active: "5",
    new: "1",
    at_risk: "2",
    churned: "1",
    repeat: "33.3%",
    retention: "66.7%",
    satisfaction: "4.00",
    liability: "150",
};

registry.category("web_tour.tours").add("hk_dashboard_tour", {
    steps: () => [
        {
            content: "The overview is open",
            trigger: ".o_hk_dashboard .o_hk_kpis",
        },
        ...Object.entries(EXPECTED).map(([kpi, value]) => ({
            content: `KPI ${kpi} shows ${value}`,
            trigger: `.o_hk_kpi[data-kpi='${kpi}'] .o_hk_kpi_value:text(${value})`,
        })),
        {
            content: "Active customers went up against the previous 90 days",
            trigger: ".o_hk_kpi[data-kpi='active'] .o_hk_kpi_trend.text-success:contains(+66.7%)",
        },
        {
            content: "The stage chart shows the four new customers",
            trigger:
                ".o_hk_chart[data-chart='stages'] .o_hk_bar_row:contains(New) .o_hk_bar_value:text(4)",
        },
        {
            content: "Twelve months of visits",
            trigger: ".o_hk_chart[data-chart='visits']:has(.o_hk_bar_row:eq(11))",
        },
        {
            content: "The trends are drawn (Chart.js)",
            trigger: ".o_hk_chart[data-chart='churn_winback'] canvas",
        },
        {
            content: "The 90-day forecast: expected visits against the cleaners' capacity",
            trigger: ".o_hk_forecast .o_hk_forecast_expected:text(0) ~ .text-muted:contains(expected visits)",
        },
        {
            content: "No cleaner worked in the last 90 days of the dataset: no capacity",
            trigger: ".o_hk_forecast .o_hk_forecast_capacity:text(0)",
        },
        {
            content: "Compare the last 30 days with the 30 before",
            trigger: "select.o_hk_period",
            run: "select 30d",
        },
        {
            content: "The new customers are counted over 30 days",
            trigger: ".o_hk_kpi[data-kpi='new'] .o_stat_text:contains(30)",
        },
        {
            content: "Open the customers at risk",
            trigger: ".o_hk_kpi[data-kpi='at_risk']",
            run: "click",
        },
        {
            content: "The two customers at risk are listed",
            trigger: ".o_list_renderer:has(.o_data_row:eq(1)):not(:has(.o_data_row:eq(2)))",
        },
    ],
});
