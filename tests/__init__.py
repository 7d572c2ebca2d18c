from . import test_customer_database, test_harness, test_sale_visits, test_ui, test_visit
