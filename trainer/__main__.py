"""python -m trainer data|sft|rm|dpo|audit ..."""

import sys

from trainer.cli import main

sys.exit(main())
