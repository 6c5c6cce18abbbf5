import sys

from mallee.cli.main import main

sys.exit(main())
