"""`python -m rulerouter` is the `rulerouter` command."""

import sys

from .cli import main

sys.exit(main())
