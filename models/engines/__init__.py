# The membership engines: the shared base first, then one engine a file.
from . import housekeeping_engine
from . import rfm
