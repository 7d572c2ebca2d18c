from odoo import api, models
from odoo.fields import Domain

# aggregates a row's multiplicity does not change (Odoo's own list for the
# groupings on a many2many): the same over the counted rows as over the rows
MULTIPLICITY_FREE = ("max", "min", "bool_and", "bool_or", "array_agg_distinct", "count_distinct")


class HousekeepingReportCounted(models.AbstractModel):
    """A report of one row per customer or event whose grouped reads (pivot,
    graph, grouped list) are answered by a model of counts (``_hk_counts_model``:
    a view of a few hundred rows kept by the nightly engines, always current)
    when they only look at what the counts keep: conditions, groupings and
    orders on ``_hk_counts_fields``, the aggregates of ``_hk_counts_aggregates``
    (a report's aggregate -> the counts' one), and the aggregates that a row's
    multiplicity does not change on those fields. Anything else (a condition on
    the customer, a grouping by the customer, ``having``) reads the rows."""

    _name = "housekeeping.report.counted"
    _description = "Report Answered by Counts"

    _hk_counts_model = None
    _hk_counts_fields = frozenset()
    _hk_counts_aggregates = {}

    @api.model
    def _hk_counts_domain(self, domain):
        """The domain to read the counts with, or None when the rows it selects
        are not what the counts hold (a report of several kinds of rows)."""
        return domain

    @api.model
    def _hk_counts_aggregate(self, spec):
        """The counts' aggregate for the report's ``spec``, or None."""
        if spec in self._hk_counts_aggregates:
            return self._hk_counts_aggregates[spec]
        fname, _sep, func = spec.partition(":")
        if fname in self._hk_counts_fields and func in MULTIPLICITY_FREE:
            return spec
        return None

    @api.model
    def _hk_counts_read(self, domain, groupings, aggregates, order=None):
        """``(domain, aggregates, order)`` to ask the counts, or None when this
        grouped read needs the rows."""
        if not self._hk_counts_model:
            return None
        domain = self._hk_counts_domain(domain)
        if domain is None:
            return None
        fields_used = {cond.field_expr.split(".")[0] for cond in Domain(domain).iter_conditions()}
        fields_used.update(spec.split(":")[0] for groups in groupings for spec in groups)
        counted = [self._hk_counts_aggregate(spec) for spec in aggregates]
        if not fields_used <= self._hk_counts_fields or None in counted:
            return None
        terms = []
        for term in (order or "").split(","):
            spec, _sep, direction = term.strip().partition(" ")
            if not spec:
                continue
            if spec.split(":")[0] in self._hk_counts_fields:
                terms.append(term.strip())
            elif (agg := self._hk_counts_aggregate(spec)) is not None:
                # an order on the rows' number orders on what they count
                terms.append(f"{agg} {direction}".strip())
            else:
                return None
        return domain, counted, ", ".join(terms) or None

    @api.model
    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
    ):
        counted = None if having else self._hk_counts_read(domain, [groupby], aggregates, order)
        if counted is None:
            return super()._read_group(domain, groupby, aggregates, having, offset, limit, order)
        self.check_access("read")
        counts_domain, counts_aggregates, counts_order = counted
        return self.env[self._hk_counts_model]._read_group(
            counts_domain,
            groupby,
            counts_aggregates,
            offset=offset,
            limit=limit,
            order=counts_order,
        )

    @api.model
    def _read_grouping_sets(self, domain, grouping_sets, aggregates=(), order=None):
        counted = self._hk_counts_read(domain, grouping_sets, aggregates, order)
        if counted is None:
            return super()._read_grouping_sets(domain, grouping_sets, aggregates, order)
        self.check_access("read")
        counts_domain, counts_aggregates, counts_order = counted
        return self.env[self._hk_counts_model]._read_grouping_sets(
            counts_domain, grouping_sets, counts_aggregates, order=counts_order
        )
