import sys

from authkit.cli.main import main

sys.exit(main())
