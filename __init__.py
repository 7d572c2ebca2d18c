from . import models
from . import controllers
from . import wizard
from . import report
from .hooks import post_load, pre_init_hook, uninstall_hook
