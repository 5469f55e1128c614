"""``flowproject init``, ``flowproject new`` and ``flowproject migrate``."""

from __future__ import annotations

import argparse

from ..config import loader as _config


def _cmd_init(args: argparse.Namespace) -> int:
    from ..project import scaffold

    report = scaffold.init(args.dir, project_name=args.project_name, flowproject_spec=args.flowproject_spec)
    print("\n".join(report.lines()))
    return 0


def _cmd_new(args: argparse.Namespace) -> int:
    from ..project import scaffold

    scaffold.check_new(args.name, args.dir)  # before looking at paths built from them
    test = scaffold.flow_test_path(args.name, args.dir)
    existed = test.exists()
    print("wrote %s" % _config.display_path(scaffold.new_flow(args.name, args.dir)))
    if test.is_file() and not existed:
        print("wrote %s" % _config.display_path(test))
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from ..project import migrate

    print("\n".join(migrate.migrate(args.dir, dry_run=args.dry_run)))
    return 0


def register(sub) -> None:
    p = sub.add_parser("init", help="set up flowproject in a git repository; never overwrites a file")
    p.add_argument("dir", nargs="?", default=".", help="the project folder (default: the current one)")
    p.add_argument(
        "--project-name", metavar="NAME", help="the Metaflow project name (default: from pyproject.toml or the folder)"
    )
    p.add_argument(
        "--flowproject-spec",
        metavar="REQ",
        help="pip requirement the workflows install flowproject with (default: this version)",
    )
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser("new", help="write flows/NAME.flow.py, a BaseFlow following the team guide")
    p.add_argument("name", help="the flow's snake_case name (the class is its CamelCase)")
    p.add_argument("--dir", default=".", help="the project folder (default: the current one)")
    p.set_defaults(func=_cmd_new)

    p = sub.add_parser("migrate", help="convert an Outerbounds scaffold repository in place (one reviewable diff)")
    p.add_argument("dir", nargs="?", default=".", help="the project folder (default: the current one)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and the unified diff; change nothing")
    p.set_defaults(func=_cmd_migrate)
