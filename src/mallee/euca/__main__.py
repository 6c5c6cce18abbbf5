"""`python -m mallee.euca euca-describe-instances ...`: the commands without their scripts."""

import sys

from mallee.euca.main import main

sys.exit(main())
