"""`python -m notellm.app [VAULT]`."""

import sys

from .main import main

sys.exit(main())
