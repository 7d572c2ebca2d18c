from . import portal
from . import engagement
