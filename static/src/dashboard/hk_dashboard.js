import { Component, onWillStart, onWillUnmount, useEffect, useRef, useState } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { cookie } from "@web/core/browser/cookie";
import { getColor } from "@web/core/colors/colors";
import { formatCurrency } from "@web/core/currency";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatFloat, formatInteger } from "@web/views/fields/formatters";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

/** A Chart.js chart (the bundle the web client's graph view loads) of series
 * over labels: { labels: [...], series: [{ key, label, values }] }. */
export class HkTrendChart extends Component {
    static template = "housekeeping_membership.HkTrendChart";
    static props = { chart: Object, type: { type: String, optional: true } };
    static defaultProps = { type: "line" };

    setup() {
        this.canvasRef = useRef("canvas");
        this.chart = null;
        onWillStart(() => loadBundle("web.chartjs_lib"));
        useEffect(
            () => {
                this.renderChart();
            },
            () => [this.props.chart]
        );
        onWillUnmount(() => this.chart?.destroy());
    }

    renderChart() {
        this.chart?.destroy();
        const scheme = cookie.get("color_scheme");
        const isLine = this.props.type === "line";
        this.chart = new window.Chart(this.canvasRef.el, {
            type: this.props.type,
            data: {
                labels: this.props.chart.labels,
                datasets: this.props.chart.series.map((serie, index) => ({
                    label: serie.label,
                    data: serie.values,
                    backgroundColor: getColor(index, scheme),
                    borderColor: getColor(index, scheme),
                    fill: false,
                    tension: isLine ? 0.2 : 0,
                })),
            },
            options: {
                maintainAspectRatio: false,
                animation: false,
                plugins: {
                    legend: { position: "bottom" },
                    tooltip: {
                        callbacks: {
                            label: (item) => `${item.dataset.label}: ${formatInteger(item.raw)}`,
                        },
                    },
                },
                scales: {
                    y: {
                        beginAtZero: true,
                        ticks: { precision: 0, callback: (value) => formatInteger(value) },
                    },
                },
            },
        });
    }
}

/**
 * Membership Overview: KPI cards with the trend against the previous period (a
 * period selector: month to date or last 30 days; a company selector), a click
 * on a customer KPI opens those customers, three bar charts and two trends
 * (Chart.js), all from one call to housekeeping.dashboard.get_dashboard_data().
 * Numbers are formatted here, in the user's language (thousands separators).
 */
export class HkMembershipDashboard extends Component {
    static template = "housekeeping_membership.HkMembershipDashboard";
    static components = { HkTrendChart };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ data: null, period: "month", companyId: 0 });
        onWillStart(() => this.load());
    }

    get companyIds() {
        return this.state.companyId ? [this.state.companyId] : null;
    }

    async load() {
        this.state.data = await this.orm.call("housekeeping.dashboard", "get_dashboard_data", [], {
            period: this.state.period,
            company_ids: this.companyIds,
        });
    }

    async onPeriodChange(ev) {
        this.state.period = ev.target.value;
        await this.load();
    }

    async onCompanyChange(ev) {
        this.state.companyId = parseInt(ev.target.value) || 0;
        await this.load();
    }

    async openKpi(kpi) {
        if (!kpi.clickable) {
            return;
        }
        const action = await this.orm.call("housekeeping.dashboard", "action_open_kpi", [kpi.key], {
            period: this.state.period,
            company_ids: this.companyIds,
        });
        await this.action.doAction(action);
    }

    formatKpi(kpi) {
        if (kpi.kind === "percent") {
            return `${formatFloat(kpi.value, { digits: [16, 1] })}%`;
        }
        if (kpi.kind === "rating") {
            return formatFloat(kpi.value, { digits: [16, 2] });
        }
        return formatInteger(kpi.value);
    }

    formatMoney(amount) {
        return formatCurrency(amount, this.state.data.currency_id);
    }

    formatInteger(value) {
        return formatInteger(value);
    }

    formatFloat(value) {
        return formatFloat(value, { digits: [16, 1] });
    }

    /** Bars as a share of the largest value of the chart. */
    bars(chart) {
        const max = Math.max(1, ...chart.rows.map((row) => row.value));
        return chart.rows.map((row) => ({
            ...row,
            pct: Math.round((1000 * row.value) / max) / 10,
        }));
    }

    trendClass(kpi) {
        if (kpi.good) {
            return "text-success";
        }
        return kpi.bad ? "text-danger" : "text-muted";
    }

    trendIcon(kpi) {
        return { up: "fa-arrow-up", down: "fa-arrow-down", flat: "fa-minus" }[kpi.direction];
    }
}

registry.category("actions").add("hk_membership_dashboard", HkMembershipDashboard);
