"""`ikasched completion bash`: a completion script made from the parser itself."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

_SCRIPT = """# bash completion for ikasched; load with: source <(ikasched completion bash)
_ikasched() {
  local cur path word i
  cur="${COMP_WORDS[COMP_CWORD]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    case " $(_ikasched_words "$path") " in
      *" $word "*) path="${path:+$path }$word" ;;
    esac
  done
  COMPREPLY=($(compgen -W "$(_ikasched_words "$path")" -- "$cur"))
}
_ikasched_words() {
  case "$1" in
%s
  esac
}
complete -F _ikasched ikasched
"""


def _walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, list[str]]]:
    words: list[str] = []
    children: list[tuple[str, argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                words.append(name)
                children.append((name, child))
        else:
            if action.help != argparse.SUPPRESS:
                words.extend(s for s in action.option_strings if s.startswith("--"))
    yield path, words
    for name, child in children:
        yield from _walk(child, f"{path} {name}".strip())


def script() -> str:
    from ikasched_cli.main import build_parser

    cases = [
        f'    "{path}") echo "{" ".join(words)}" ;;' for path, words in _walk(build_parser(), "")
    ]
    return _SCRIPT % "\n".join(cases)


def completion(args: argparse.Namespace) -> int:
    print(script(), end="")
    return 0
