import { Component, onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

/**
 * Membership Overview: KPI cards with the trend against the previous period and
 * three bar charts, all from one call to res.partner.hk_dashboard_data().
 */
export class HkMembershipDashboard extends Component {
    static template = "housekeeping_membership.HkMembershipDashboard";
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.state = useState({ data: null });
        onWillStart(() => this.load());
    }

    async load() {
        this.state.data = await this.orm.call("res.partner", "hk_dashboard_data", []);
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
