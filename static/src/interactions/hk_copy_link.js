import { Interaction } from "@web/public/interaction";
import { registry } from "@web/core/registry";

/**
 * Copy button of the referral link (portal, /my/referral): copies the link and
 * says so on the button. WeChat's browser may refuse the Clipboard API: the link's
 * field is then selected, for the customer to copy it by hand.
 */
export class HkCopyLink extends Interaction {
    static selector = ".o_hk_copy";
    dynamicContent = {
        _root: { "t-on-click": this.onClick },
    };

    async onClick() {
        const value = this.el.dataset.hkCopy;
        try {
            await this.waitFor(navigator.clipboard.writeText(value));
            this.el.querySelector(".o_hk_copy_label").classList.add("d-none");
            this.el.querySelector(".o_hk_copied_label").classList.remove("d-none");
        } catch {
            const input = this.el.parentElement.querySelector("input");
            input?.focus();
            input?.select();
        }
    }
}

registry.category("public.interactions").add("housekeeping_membership.copy_link", HkCopyLink);
