import sys

from authkit.cli import main

sys.exit(main())
