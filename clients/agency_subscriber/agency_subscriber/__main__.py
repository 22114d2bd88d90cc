import sys

from agency_subscriber.cli import main

sys.exit(main())
