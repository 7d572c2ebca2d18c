import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatInteger } from "@web/views/fields/formatters";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

/** The thresholds the preview may override: the keys of LIFECYCLE_SETTINGS in
 * models/lifecycle_rules.py (tests/test_lifecycle_preview_widget.py checks that
 * both lists agree). Only those the form shows are sent. */
export const LIFECYCLE_SETTINGS = [
    "hk_new_min_visits",
    "hk_new_max_days",
    "hk_at_risk_factor",
    "hk_at_risk_floor_days",
    "hk_churn_factor",
    "hk_churn_floor_days",
    "hk_low_rating",
    "hk_rated_visits_window",
    "hk_season_max_days",
    "hk_season_off_share",
    "hk_season_grace_days",
    "hk_at_risk_probability_enabled",
    "hk_at_risk_probability",
];

const MODEL = "housekeeping.lifecycle.preview";

/**
 * The "Preview" of the Preview Rule Change dialog: the counts of the customers
 * whose stage the thresholds being edited would change, from the read-only
 * housekeeping.lifecycle.preview.get_preview() (@api.readonly: Odoo may serve it
 * from a read replica). The wizard is not saved: the values are the record's
 * current, unsaved ones.
 */
export class HkLifecyclePreview extends Component {
    static template = "housekeeping_membership.HkLifecyclePreview";
    static props = { ...standardWidgetProps };

    setup() {
        this.orm = useService("orm");
        this.state = useState({ loading: false, result: null, previewedKey: null });
    }

    /** The record's current values get_preview takes: the company (an id) and the
     * thresholds the form has. */
    get values() {
        const record = this.props.record;
        const values = {};
        if ("company_id" in record.activeFields && record.data.company_id) {
            values.company_id = record.data.company_id.id;
        }
        for (const name of LIFECYCLE_SETTINGS) {
            if (name in record.activeFields) {
                values[name] = record.data[name];
            }
        }
        return values;
    }

    /** Whether the thresholds changed since the preview shown. */
    get stale() {
        return Boolean(this.state.result) && JSON.stringify(this.values) !== this.state.previewedKey;
    }

    get summary() {
        const result = this.state.result;
        return _t(
            "%(count)s customers would change stage with the interval rules, %(count_probability)s with the probability rule too:",
            {
                count: formatInteger(result.moved_count),
                count_probability: formatInteger(result.moved_count_probability),
            }
        );
    }

    stageLabel(stage) {
        return stage ? this.state.result.stage_labels[stage] || stage : _t("None");
    }

    formatInteger(value) {
        return formatInteger(value);
    }

    async onPreview() {
        // the value being typed in a field counts (as Save would see it); an invalid
        // one is reported as the form reports it, and nothing is asked
        if (!(await this.props.record.checkValidity({ displayNotification: true }))) {
            return;
        }
        const values = this.values;
        this.state.loading = true;
        try {
            // an error (a UserError) goes on to the error service, which shows it
            const result = await this.orm.call(MODEL, "get_preview", [values]);
            this.state.result = result;
            this.state.previewedKey = JSON.stringify(values);
        } finally {
            this.state.loading = false;
        }
    }
}

export const hkLifecyclePreview = {
    component: HkLifecyclePreview,
};

registry.category("view_widgets").add("hk_lifecycle_preview", hkLifecyclePreview);
