import sys

from mallee.images.cli import main

sys.exit(main())
