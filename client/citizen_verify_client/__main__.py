import sys

from citizen_verify_client.cli import main

sys.exit(main())
