from . import test_customer_database
