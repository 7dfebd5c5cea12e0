import sys

from tests.image.session import main

raise SystemExit(main(sys.argv[1:]))
