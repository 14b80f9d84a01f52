"""Bad workflows are rejected when they are loaded: a FluxError with file:line:col, the source
line and a caret under the column, and nothing runs."""

from __future__ import annotations

import re

import pytest

from theus import FluxError, Workflow

# (id, YAML text, line, col, a substring of the message)
CASES = [
    ("yaml_tab", "steps:\n\t- a\n", 2, 1, "invalid YAML"),
    ("yaml_unclosed_flow", "steps: [a, b\nname: x\n", None, None, "invalid YAML"),
    ("yaml_two_documents", "steps: [a]\n---\nsteps: [b]\n", 2, 1, "more than one YAML document"),
    ("top_level_list", "- a\n- b\n", 1, 1, "top level must be a mapping"),
    ("top_level_scalar", "just: [a]\n", 1, 1, "unknown key `just`"),
    ("unknown_top_level_key", "steps: [a]\nstpes: [b]\n", 2, 1, "unknown key `stpes` in the workflow"),
    ("no_steps", "name: x\n", 1, 1, "no `steps`"),
    ("steps_empty_value", "steps:\n", 1, 7, "`steps` must be a list"),
    ("steps_not_a_list", "steps: a\n", 1, 8, '`steps` must be a list of steps, got the string "a"'),
    ("name_not_a_string", "name: [1]\nsteps: [a]\n", 1, 7, "`name` must be a string"),
    ("duplicate_key", "steps:\n  - flux: if\n    condition: true\n    condition: false\n    then: [a]\n",
     4, 5, "duplicate key `condition` (first defined at line 3)"),
    ("typo_condtion", "steps:\n  - flux: while\n    condtion: domain.counter < 3\n    do: [inc]\n",
     3, 5, "unknown key `condtion` in a while step (did you mean `condition`?"),
    ("foreign_on_success", "steps:\n  - process: a\n    on_success: b\n", 3, 5,
     "unknown key `on_success` in a process step (allowed: process, with, retry)"),
    ("unknown_key_in_if", "steps:\n  - flux: if\n    condition: true\n    then: [a]\n    elif: [b]\n", 5, 5,
     "unknown key `elif`"),
    ("unknown_kind", "steps:\n  - flux: iff\n    condition: true\n    then: [a]\n", 2, 11,
     'unknown flux kind "iff" (did you mean `if`?'),
    ("unknown_kind_loop", "steps:\n  - flux: for\n    do: [a]\n", 2, 11, 'unknown flux kind "for"'),
    ("process_and_flux", "steps:\n  - process: a\n    flux: run\n", 3, 5, "either `process` or `flux`, not both"),
    ("empty_mapping_step", "steps:\n  - {}\n", 2, 5, "needs `process: <name>` or `flux: if|while|run|try|wait|map`"),
    ("null_step", "steps:\n  - \n  - a\n", 2, 4, "empty step"),
    ("number_step", "steps:\n  - 5\n", 2, 5, "a process name must be a string"),
    ("empty_process_name", "steps:\n  - process: ''\n", 2, 14, "empty process name"),
    ("if_missing_condition", "steps:\n  - flux: if\n    then: [a]\n", 2, 5, "if step is missing `condition`"),
    ("if_missing_then", "steps:\n  - flux: if\n    condition: true\n    else: [a]\n", 2, 5, "if step is missing `then`"),
    ("while_missing_condition", "steps:\n  - flux: while\n    do: [a]\n", 2, 5, "while step is missing `condition`"),
    ("while_missing_do", "steps:\n  - flux: while\n    condition: true\n", 2, 5, "while step is missing `do`"),
    ("run_missing_steps", "steps:\n  - flux: run\n", 2, 5, "run step is missing `steps`"),
    ("then_not_a_list", "steps:\n  - flux: if\n    condition: true\n    then: a\n", 4, 11,
     '`then` must be a list of steps, got the string "a"'),
    ("else_not_a_list", "steps:\n  - flux: if\n    condition: true\n    then: [a]\n    else: {process: b}\n", 5, 11,
     "`else` must be a list of steps"),
    ("do_not_a_list", "steps:\n  - flux: while\n    condition: true\n    do: a\n", 4, 9, "`do` must be a list of steps"),
    ("run_steps_not_a_list", "steps:\n  - flux: run\n    steps: 3\n", 3, 12, "`steps` must be a list of steps"),
    ("empty_do", "steps:\n  - flux: while\n    condition: domain.counter < 3\n    do: []\n", 4, 9,
     "while loop has an empty `do` list"),
    ("max_iterations_zero", "steps:\n  - flux: while\n    condition: true\n    max_iterations: 0\n    do: [a]\n",
     4, 21, "`max_iterations` must be an integer from 1 to 2147483648, got 0"),
    ("max_iterations_negative", "steps:\n  - flux: while\n    condition: true\n    max_iterations: -3\n    do: [a]\n",
     4, 21, "`max_iterations` must be an integer from 1 to 2147483648"),
    ("max_iterations_float", "steps:\n  - flux: while\n    condition: true\n    max_iterations: 1.5\n    do: [a]\n",
     4, 21, "`max_iterations` must be an integer from 1 to 2147483648"),
    ("max_iterations_string", "steps:\n  - flux: while\n    condition: true\n    max_iterations: many\n    do: [a]\n",
     4, 21, "`max_iterations` must be an integer from 1 to 2147483648"),
    ("condition_empty", "steps:\n  - flux: if\n    condition:\n    then: [a]\n", 3, 15, "condition is empty"),
    ("condition_list", "steps:\n  - flux: if\n    condition: [a]\n    then: [a]\n", 3, 16,
     "`condition` must be an expression string"),
    ("condition_syntax", "steps:\n  - flux: if\n    condition: domain.counter >> 3\n    then: [a]\n", 3, 32,
     "invalid condition"),
    ("condition_unclosed_paren", "steps:\n  - flux: if\n    condition: domain.n < 3 and (domain.x\n    then: [a]\n", 3, 41,
     "invalid condition: unexpected token EOF"),
    ("condition_unknown_function", "steps:\n  - flux: while\n    condition: exists(domain.x)\n    do: [a]\n", 3, 16,
     "unknown function exists"),
    ("condition_method_call", "steps:\n  - flux: if\n    condition: \"domain.key.upper() == 'X'\"\n    then: [a]\n", 3, 28,
     "method calls are not supported"),
    ("condition_env", "steps:\n  - flux: if\n    condition: '$env.HOME == \"x\"'\n    then: [a]\n", 3, 17,
     "$env is not available"),
    ("condition_mixed_coalesce", "steps:\n  - flux: if\n    condition: domain.maybe ?? 0 > 3\n    then: [a]\n", 3, 34,
     "cannot be mixed"),
    ("condition_constant_type_error", "steps:\n  - flux: if\n    condition: \"'x' < 1\"\n    then: [a]\n", 3, 21,
     "cannot compare str < int"),
    ("condition_constant_int", "steps:\n  - flux: if\n    condition: 5\n    then: [a]\n", 3, 16,
     "condition must be true or false, but it is int"),
    ("condition_arithmetic", "steps:\n  - flux: while\n    condition: 1 + 2\n    do: [a]\n", 3, 16,
     "condition must be true or false, but it is int"),
    ("condition_constant_string", "steps:\n  - flux: if\n    condition: '\"yes\"'\n    then: [a]\n", 3, 17,
     "but it is str "),
    ("condition_none", "steps:\n  - flux: if\n    condition: None\n    then: [a]\n", 3, 16, "always None"),
    ("with_list", "steps:\n  - process: rec\n    with: [1, 2]\n", 3, 11, "`with` must be a mapping of keyword arguments, got a list"),
    ("with_scalar", "steps:\n  - process: rec\n    with: 5\n", 3, 11, "`with` must be a mapping"),
    ("with_int_key", "steps:\n  - process: rec\n    with: {1: a}\n", 3, 12, "keys under `with` must be non-empty strings"),
    ("with_bad_int_tag", "steps:\n  - process: rec\n    with: {n: !!int 12x}\n", 3, 15,
     '"12x" is not an integer'),
    ("unregistered_process", "steps:\n  - a\n  - flux: if\n    condition: true\n    then: [incc]\n", 5, 12,
     'unknown process "incc" (did you mean "inc"?)'),
    ("unregistered_shorthand", "steps:\n  - recc\n", 2, 5, 'unknown process "recc" (did you mean "rec"?)'),
    ("unregistered_mapping", "steps:\n  - process: set_flg\n", 2, 5, 'unknown process "set_flg" (did you mean "set_flag"?)'),
    ("unregistered_no_hint", "steps:\n  - inc\n  - zzzzzz\n", 3, 5, 'unknown process "zzzzzz"'),
    ("error_deep_in_nesting",
     "steps:\n  - flux: run\n    steps:\n      - flux: while\n        condition: true\n        do:\n"
     "          - flux: if\n            condition: true\n            then: [a]\n            els: [b]\n",
     10, 13, "unknown key `els`"),
]

HEAD = re.compile(r"^<string>:(\d+):(\d+): flux: (.*)$")


def check_error(err: FluxError, source: str, line, col, needle: str, file: str = "<string>") -> None:
    text = str(err)
    lines = text.split("\n")
    m = re.match(rf"^{re.escape(file)}:(\d+):(\d+): flux: (.*)$", lines[0])
    assert m, text
    got_line, got_col, message = int(m.group(1)), int(m.group(2)), m.group(3)
    assert needle in message, text
    if line is not None:
        assert (got_line, got_col) == (line, col), text
    # the snippet: the source line at the position, then a caret under the column
    assert len(lines) == 3, text
    assert lines[1] == source.split("\n")[got_line - 1], text
    assert lines[2].rstrip() == " " * (got_col - 1) + "^", text


@pytest.mark.parametrize("source, line, col, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_load_error(engine, calls, source, line, col, needle):
    with engine.state as snap:
        before = snap.version
    with pytest.raises(FluxError) as info:
        engine.execute_workflow(source)
    check_error(info.value, source, line, col, needle)
    with engine.state as snap:
        assert snap.version == before
    assert calls == []
    assert engine.last_run is None


@pytest.mark.parametrize("source, line, col, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_load_error_from_a_file(engine, tmp_path, source, line, col, needle):
    path = tmp_path / "flow.yaml"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(FluxError) as info:
        engine.load_workflow(path)
    check_error(info.value, source, line, col, needle, file=str(path))
    assert engine.last_run is None


def test_condition_error_column_points_inside_the_expression(engine):
    # a quoted condition with a Python alias and an escaped quote before the error
    source = 'steps:\n  - flux: if\n    condition: "domain.x == None and domain.s == \\"é\\" and domain.n >> 1"\n    then: [a]\n'
    with pytest.raises(FluxError) as info:
        engine.load_workflow(source)
    _, src_line, caret = str(info.value).split("\n")
    col = caret.index("^")
    assert src_line[col - 1:col + 1] == ">>"  # the parser stops at the second `>`
    assert col > src_line.index('"')  # inside the quoted expression


@pytest.mark.parametrize("style", ["|", ">"])
def test_condition_error_in_a_block_scalar_points_at_its_line(engine, style):
    source = f"steps:\n  - flux: if\n    condition: {style}\n      domain.n < 1 and\n      domain.n >> 1\n    then: [a]\n"
    with pytest.raises(FluxError) as info:
        engine.load_workflow(source)
    head, src_line, caret = str(info.value).split("\n")
    assert head.startswith("<string>:5:")
    assert src_line == "      domain.n >> 1"
    assert src_line[caret.index("^") - 1:caret.index("^") + 1] == ">>"


def test_workflow_constructor_parses_without_an_engine():
    # structure and conditions are checked without any engine; names only by validate
    wf = Workflow("steps: [not_registered_anywhere]")
    assert list(wf.process_names) == ["not_registered_anywhere"]
    with pytest.raises(FluxError, match="condtion"):
        Workflow("steps:\n  - flux: while\n    condtion: true\n    do: [a]\n")


def test_unknown_process_with_nothing_registered():
    from theus import TheusEngine

    e = TheusEngine({"domain": {}})
    with pytest.raises(FluxError, match='unknown process "a"'):
        e.execute_workflow("steps: [a]")
    assert e.last_run is None


def test_crlf_source_reports_the_same_position(engine):
    source = "steps:\r\n  - flux: while\r\n    condtion: true\r\n    do: [a]\r\n"
    with pytest.raises(FluxError) as info:
        engine.load_workflow(source)
    assert str(info.value).split("\n")[0].startswith("<string>:3:5: ")
    assert str(info.value).split("\n")[1] == "    condtion: true"


def test_flux_error_exposes_code_and_position(engine):
    with pytest.raises(FluxError) as info:
        engine.load_workflow("steps:\n  - flux: while\n    condtion: true\n    do: [a]\n")
    err = info.value
    assert (err.code, err.file, err.line, err.col) == ("unknown_key", "<string>", 3, 5)
