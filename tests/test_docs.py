"""The README and docs/ name only things that exist: config paths and names, tools, make
targets, links and their anchors; every ``python tools/X.py`` command they show runs with
``--help`` and takes every option it is shown with."""
import glob
import os.path as osp
import re
from typing import Dict, List, Set, Tuple

import pytest
from conftest import ROOT, run_tool

PAGES = [osp.join(ROOT, 'README.md')] + sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))
#: A config's name: a family prefix and at least two more parts (not an output's name,
#: such as ``simcc_x``).
CONFIG_NAME = re.compile(r'\b((?:td-hm|td-reg|fcn|simcc|rtmpose|dekr|cid)_[\w.-]+?_[\w.-]+?)'
                         r'(?:\.py)?\b(?![\w.-])')
TOOL_COMMAND = re.compile(r'python (tools/\w+\.py)((?:[^\n`\\]|\\\n)*)')


def _code(page: str) -> List[str]:
    """The page's code: each line of its fenced blocks, and each inline code span."""
    text = open(page).read()
    fenced = re.findall(r'^```[^\n]*\n(.*?)^```', text, flags=re.M | re.S)
    prose = _prose(page)
    blocks = [block.replace('\\\n', ' ') for block in fenced]
    return ([line for block in blocks for line in block.splitlines()]
            + [span.replace('\n', ' ') for span in re.findall(r'`([^`]+)`', prose)])


def _prose(page: str) -> str:
    """The page without its fenced code blocks."""
    return re.sub(r'^```.*?^```', '', open(page).read(), flags=re.M | re.S)


def _expand_braces(path: str) -> List[str]:
    match = re.search(r'\{([^{}]*)\}', path)
    if not match:
        return [path]
    return [expanded for option in match.group(1).split(',') for expanded in
            _expand_braces(path[:match.start()] + option + path[match.end():])]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    heading = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return heading.replace(' ', '-')


def _anchors(page: str) -> Set[str]:
    text = _prose(page)
    return {_slug(h) for h in re.findall(r'^#+ (.+)$', text, flags=re.M)}


@pytest.mark.parametrize('page', PAGES, ids=lambda p: osp.relpath(p, ROOT))
def test_named_paths_configs_and_targets_exist(page):
    from mmengine.utils import get_installed_path
    # Ours, and MMPose's (the bases our recipes name).
    configs = {osp.basename(p)[:-3] for root in (
        osp.join(ROOT, 'configs'), osp.join(get_installed_path('mmpose'), '.mim', 'configs'))
        for p in glob.glob(osp.join(root, '**', '*.py'), recursive=True)}
    targets = set(re.findall(r'^([\w-]+):', open(osp.join(ROOT, 'Makefile')).read(),
                             flags=re.M))
    missing = []
    for code in _code(page):
        for path in re.findall(r'\b((?:configs|tools|docs|tests)/[\w/.{},*-]*\w)', code):
            if re.search(r'/[A-Z_]+(\.\w+)?$', path):
                continue  # a placeholder: configs/seg/litehrnet/CONFIG.py
            for expanded in _expand_braces(path):
                if not glob.glob(osp.join(ROOT, expanded)):
                    missing.append(expanded)
        missing += [name for name in CONFIG_NAME.findall(code) if name not in configs]
        for target in re.findall(r'(?:^|[;&|(]\s*)make ((?:[\w-]+=\S+ )*[\w-]+)', code):
            target = target.split()[-1]
            if target not in targets:
                missing.append(f'make {target}')
    assert not missing, f'{osp.relpath(page, ROOT)} names what does not exist: {missing}'


@pytest.mark.parametrize('page', PAGES, ids=lambda p: osp.relpath(p, ROOT))
def test_links_resolve(page):
    text = _prose(page)
    broken = []
    for link in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'[a-z]+:', link):
            continue
        path, _, anchor = link.partition('#')
        target = osp.normpath(osp.join(osp.dirname(page), path)) if path else page
        if not osp.exists(target):
            broken.append(link)
        elif anchor and target.endswith('.md') and anchor not in _anchors(target):
            broken.append(link)
    assert not broken, f'{osp.relpath(page, ROOT)}: broken links {broken}'


def _tool_commands() -> Dict[str, Set[Tuple[str, str]]]:
    """tool path -> {(option, page)} for every ``python tools/X.py ...`` shown."""
    commands: Dict[str, Set[Tuple[str, str]]] = {}
    for page in PAGES:
        for code in _code(page):
            for tool, args in TOOL_COMMAND.findall(code):
                options = commands.setdefault(tool, set())
                options.update((option, osp.relpath(page, ROOT))
                               for option in re.findall(r'(?<![\w-])(--[a-z][\w-]*)', args))
    return commands


def test_shown_tool_commands_parse():
    commands = _tool_commands()
    assert 'tools/export_onnx.py' in commands and 'tools/benchmark.py' in commands
    problems = []
    for tool, options in sorted(commands.items()):
        code, text = run_tool(osp.basename(tool)[:-3], '--help')
        if code not in (0, None) or 'usage:' not in text:
            problems.append(f'{tool} --help exited {code}')
            continue
        problems += [f'{page}: {tool} has no {option}' for option, page in sorted(options)
                     if not re.search(re.escape(option) + r'\b', text)]
    assert not problems, problems
