"""Command line of the book pipeline: ``python -m bookbuild COMMAND`` (see --help)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bookbuild.execute import ChapterFailed, Layout, discover_chapters, execute_chapter, prepare_run
from bookbuild.params import ParameterError, load_profile, parse_override
from bookbuild.publish import PublishError, book_repository, publish
from bookbuild.stage import build_html, stage_book
from bookbuild.sweep import add_sweep_parser
from bookbuild.verify import add_verify_parsers
from contexture.runtime.provenance import repo_root


def _layout(args: argparse.Namespace, custom: bool) -> Layout:
    root = Path(args.root).resolve()
    profile = getattr(args, "profile", "default")
    build = root / "build" / ("custom" if custom else "") / profile
    data_dir = Path(args.data_dir) if args.data_dir else root / "data"
    return Layout(book_dir=root / "book", build_dir=build, library_dir=root / "contexture",
                  lock_file=root / "requirements.lock", data_dir=data_dir)


def _overrides(pairs: list[list[str]] | None) -> dict:
    return {name: parse_override(value) for name, value in (pairs or [])}


def _select(layout: Layout, names: list[str] | None) -> list:
    chapters = discover_chapters(layout.book_dir)
    if not names:
        return list(chapters.values())
    unknown = [n for n in names if n not in chapters]
    if unknown:
        raise ParameterError(f"unknown chapter(s) {unknown}; known chapters: "
                             f"{', '.join(chapters)}")
    return [chapters[n] for n in names]


def _prepare_all(layout: Layout, profile: str, selected: list, overrides: dict) -> list:
    profile_values = load_profile(layout.params_dir / f"{profile}.yaml")
    known = set(discover_chapters(layout.book_dir))
    stray = sorted(set(profile_values) - known)
    if stray:
        raise ParameterError(f"{profile}.yaml names unknown chapter(s) {stray}; "
                             f"known chapters: {', '.join(sorted(known))}")
    # Validate every chapter's parameters before executing anything.
    return [prepare_run(ch, profile, profile_values.get(ch.name, {}), overrides, layout)
            for ch in selected]


def cmd_build(args: argparse.Namespace) -> int:
    overrides = _overrides(args.param)
    layout = _layout(args, custom=bool(overrides))
    runs = _prepare_all(layout, args.profile, _select(layout, args.chapters), overrides)
    records, failures = [], []
    for run in runs:
        try:
            records.append(execute_chapter(run, layout, force=args.force))
        except ChapterFailed as exc:
            failures.append(str(exc))
    print("\nChapter runs:")
    for r in records:
        print(f"  {r.chapter:<28} {r.status:<9} {r.runtime_s:8.1f} s")
    if failures:
        for f in failures:
            print("\n" + "=" * 78 + "\n" + f, file=sys.stderr)
        print(f"\n{len(failures)} chapter(s) failed; the book was not built.", file=sys.stderr)
        return 1
    if args.no_html:
        return 0
    default_out = Path(args.root) / ("book" if args.profile == "default" and not overrides
                                     else layout.build_dir.relative_to(Path(args.root).resolve()))
    out = Path(args.path_output).resolve() if args.path_output else default_out
    # A build into its own output folder also stages its sources there (parallel builds).
    src = stage_book(layout, records, args.profile,
                     src=out / "_src" if args.path_output else None,
                     partial=bool(args.chapters))
    build_html(src, out)
    return 0


def cmd_chapter(args: argparse.Namespace) -> int:
    overrides = _overrides(args.param)
    layout = _layout(args, custom=bool(overrides))
    [run] = _prepare_all(layout, args.profile, _select(layout, [args.name]), overrides)
    try:
        record = execute_chapter(run, layout, force=args.force)
    except ChapterFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"executed notebook: {record.notebook}")
    print(f"figures:           {layout.build_dir / 'figures' / args.name}")
    print(f"results:           {layout.build_dir / 'results' / (args.name + '.json')}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    layout = _layout(args, custom=False)
    for name, ch in discover_chapters(layout.book_dir).items():
        print(name)
        for spec in ch.specs().values():
            print(f"    {spec.name} = {spec.default!r}    # {spec.allowed()}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    try:
        result = publish(root, args.profile, args.branch)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    url, configured = book_repository(root)
    if result.branch != configured:
        print(f"note: the launch buttons open branch {configured!r} (repository.branch in "
              f"book/_config.yml), not {result.branch!r}")
    print(f"launch buttons: {url or '(no repository.url in book/_config.yml)'} on branch "
          f"{configured!r}")
    print(f"Nothing was pushed. To publish: git push origin {result.branch}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bookbuild", description=__doc__)
    parser.add_argument("--root", default=str(repo_root()), help="project root")
    parser.add_argument("--data-dir", default=None, help="prepared data (default: ROOT/data)")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--profile", default="default", help="smoke, default or paper")
        p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                       help="override a parameter (a YAML value), like papermill -p")
        p.add_argument("--force", action="store_true", help="ignore the cache")

    b = sub.add_parser("build", help="execute chapters (cached) and build the HTML book")
    common(b)
    b.add_argument("--chapters", nargs="*", help="only these chapters")
    b.add_argument("--path-output", default=None,
                   help="HTML goes to PATH/_build/html (default: book/ for the default profile, "
                        "build/<profile>/ otherwise)")
    b.add_argument("--no-html", action="store_true", help="execute only")
    b.set_defaults(func=cmd_build)
    c = sub.add_parser("chapter", help="execute one chapter and print where its outputs are")
    c.add_argument("name")
    common(c)
    c.set_defaults(func=cmd_chapter)
    ls = sub.add_parser("list", help="list chapters and their declared parameters")
    ls.set_defaults(func=cmd_list)
    pb = sub.add_parser("publish", help="commit the executed notebooks of a built profile to a "
                                        "local branch for the Binder/Colab buttons (no push)")
    pb.add_argument("--profile", default="default", help="a profile built before (default)")
    pb.add_argument("--branch", default=None,
                    help="branch to commit to (default: repository.branch in book/_config.yml)")
    pb.set_defaults(func=cmd_publish)
    add_sweep_parser(sub)
    add_verify_parsers(sub)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
