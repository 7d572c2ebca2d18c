# housekeeping_membership: the two commands are `make run` and `make test`.
# Odoo 19.0 must be importable, or ODOO_SRC must point at its source tree.
H := tools/harness.sh
.PHONY: run test test-odoo test-compat test-cycle lint bench bench-replica bench-plot shell pg-stop clean pot screenshots
run:         ; @bash $(H) run
test:        ; @bash $(H) test $(TESTS)
test-odoo:   ; @bash $(H) test-odoo
test-compat: ; @bash $(H) test-compat
test-cycle:  ; @bash $(H) test-cycle
lint:        ; @bash $(H) lint
bench:       ; @SCALE=$(or $(SCALE),small) bash $(H) bench
bench-replica: ; @SCALE=$(or $(SCALE),small) bash $(H) bench-replica
bench-plot:  ; @bash $(H) bench-plot
shell:       ; @bash $(H) shell
pg-stop:     ; @bash $(H) pg-stop
clean: pg-stop ; rm -rf .cache
pot:         ; @bash $(H) pot
screenshots: ; @HK_SCREENSHOTS=1 bash $(H) test tests/test_portal_ui.py
