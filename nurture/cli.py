"""The `nurture` command: `nurture run`, `nurture import FILE`, `nurture export contacts FILE.csv` ..."""

from __future__ import annotations

import os
import sys

# CLI verbs whose management command has another name (a module cannot be called `import`).
ALIASES = {
    "import": "import_file",
    "seed-demo": "seed_demo",
    "apply-stage-rules": "apply_stage_rules",
    "refresh-segments": "refresh_segments",
    "train-scoring": "train_scoring",
    "replay-dead-letters": "replay_dead_letters",
    "import-costs": "import_costs",
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nurture.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    if len(argv) > 1:
        argv[1] = ALIASES.get(argv[1], argv[1])
    argv[0] = "nurture"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
