"""The corpus rules of the code sources (issue reports, Rosetta Code, Codeforces, Exercism), on
small in-test fixtures (the corpus itself is not needed)."""

from __future__ import annotations

from bench.data import build_corpus as build
from bench.data import corpus_rules_code as code
from bench.data.corpus_common import record_problems


def test_html_text_keeps_paragraphs_lists_and_exponents() -> None:
    got = code.html_text("<div><p>Find $x$&nbsp;— the answer.</p><ul><li>one</li><li>two</li></ul>"
                         "<p>modulo 10<sup>9</sup> + 7, a<sub>i</sub></p></div>")
    assert got == "Find $x$ — the answer.\n\n- one\n- two\n\nmodulo 10^9 + 7, a_i"


def test_nlbse_bugs_are_complex_questions_standard_and_features_left_out() -> None:
    rows = [{"repo": "facebook/react", "label": "bug", "title": "Crash on load", "body": "TypeError: x is undefined"},
            {"repo": "opencv/opencv", "label": "feature", "title": "Add AVIF", "body": "please"},
            {"repo": "bitcoin/bitcoin", "label": "question", "title": "How do I prune?", "body": ""},
            {"repo": "bitcoin/bitcoin", "label": "question", "title": "  ", "body": "no title"}]
    got = list(code.nlbse_candidates(rows))
    assert [(c.key, c.prompt, c.tier, c.category) for c in got] == [
        ("train/0", "Crash on load\n\nTypeError: x is undefined", "complex", "bug/facebook/react"),
        ("train/2", "How do I prune?", "standard", "question/bitcoin/bitcoin")]


def test_nlbse_drops_the_issue_templates_html_comments_and_windows_line_ends() -> None:
    body = ("<!--\r\nIf you have a question rather than reporting a bug, go to the forum.\r\n-->\r\n\r\n\r\n"
            "**Describe the bug**\r\ncv2.imread returns None <!-- what you saw --> on PNG files\r\n<!-- unclosed")
    got = list(code.nlbse_candidates([{"repo": "opencv/opencv", "label": "bug", "title": "imread fails", "body": body}]))
    assert got[0].prompt == "imread fails\n\n**Describe the bug**\ncv2.imread returns None  on PNG files"


def rosetta_page(title: str, categories: list[str], body: str) -> str:
    cats = ", ".join(f'"{c}"' for c in categories)
    return (f'+++\ntitle = "{title}"\n[extra]\nid = 1\n[taxonomies]\ncategories = [{cats}]\n'
            f'languages = ["ada", "c++", "perl_6"]\n+++\n{body}')


def test_rosetta_takes_the_task_text_before_the_first_solution_and_tiers_by_category() -> None:
    body = ("\n## Description\n\nPrint the numbers from 1 to 10, see [Loops/For](@/tasks/loops_for.md).\n\n"
            "## Task\nUse a loop.\n\n## Ada\n```ada\nnull;\n```\n## C++\nint main() {}\n")
    pages = [("content/tasks/loops.md", rosetta_page("Loops/Count", ["Iteration", "task"], body)),
             ("content/tasks/maze.md", rosetta_page("Maze solving", ["Games", "task"],
                                                    "\nSolve a maze read from a file, shortest path first.\n## C++\nx\n")),
             ("content/tasks/lang.md", rosetta_page("Ada", ["language"], "\nA language page, not a task at all.\n"))]
    loops, maze = code.rosetta_candidates(pages)
    assert (loops.tier, loops.category, maze.tier, maze.category) == ("standard", "Iteration", "complex", "Games")
    assert loops.prompt == ("Loops/Count\n\nPrint the numbers from 1 to 10, see Loops/For.\n\n## Task\nUse a loop.")
    assert maze.prompt == "Maze solving\n\nSolve a maze read from a file, shortest path first."


def test_rosetta_prompts_lose_the_wiki_markup_that_names_their_category() -> None:
    body = ("\n{{task|Basic language learning}}\nShow how to print [[wp:Hello world|a greeting]] on "
            "[[Terminal Control|the terminal]], {{math|x<sup>2</sup>}}.\n[[Category:Simple]]\n{{omit from|{{nested|x}}}}\n\n"
            "=={{header|Ada}}==\nPut_Line;\n")
    (hello,) = code.rosetta_candidates([("content/tasks/hello.md", rosetta_page("Hello", ["Simple", "task"], body))])
    assert hello.tier == "standard"
    assert hello.prompt == "Hello\n\nShow how to print a greeting on the terminal, x<sup>2</sup>."
    assert code.wiki_text("[[Loops/For]] and [[oeis:A000045]] {{draft task}}") == "Loops/For and A000045 "


PROBLEM_MD = ("## Description\n\n<div><p>Given $n$ numbers, print their sum.</p></div>\n\n## Input\n\n<p>dup</p>\n\n"
              "```input1\n2\n1 2\n```\n\n```output1\n3\n```\n\n## Note\n\n<p>Easy.</p>\n")


def test_codeforces_rated_problems_before_the_cutoff_are_complex() -> None:
    def meta(pid: str, rating: str | None) -> str:
        return f"pid: {pid}\nowner: 1\ntitle: 'Sum'\ntag:\n  - math\n" + (f"  - '*{rating}'\n" if rating else "")
    last = code.CODEFORCES_LAST_CONTEST
    problems = [("1", meta("P4A", "800"), PROBLEM_MD), ("2", meta(f"P{last + 1}B", "1500"), PROBLEM_MD),
                ("3", meta("P5C", None), PROBLEM_MD), ("4", meta("P6D", "2000"), "## Description\n\n\n")]
    (cand,) = code.codeforces_candidates(problems)
    assert (cand.key, cand.tier, cand.category) == ("4A", "complex", "rating/800")
    assert cand.prompt == ("Sum\n\nGiven $n$ numbers, print their sum.\n\n"
                           "Example input:\n2\n1 2\n\nExample output:\n3\n\nNote:\nEasy.")


def test_every_exercism_exercise_is_a_program_from_a_description() -> None:
    exercises = [{"slug": "leap", "difficulty": 1}, {"slug": "zipper", "difficulty": 8},
                 {"slug": "old", "difficulty": 3, "status": "deprecated"}, {"slug": "nodocs", "difficulty": 2}]
    docs = {"leap": {"instructions": "# Instructions\n\nIs it a leap year?", "stub": ("leap.py", "def leap_year(y):\n    pass\n")},
            "zipper": {"introduction": "# Introduction\n\nTrees.", "instructions": "# Instructions\n\nBuild a zipper."},
            "old": {"instructions": "Gone."}, "nodocs": {}}
    leap, zipper = code.exercism_candidates(exercises, docs)
    assert (leap.key, leap.tier, leap.category, zipper.tier) == ("leap", "complex", "difficulty/1", "complex")
    assert leap.prompt == "# Instructions\n\nIs it a leap year?\n\nleap.py:\n```python\ndef leap_year(y):\n    pass\n```"
    assert zipper.prompt == "# Introduction\n\nTrees.\n\n# Instructions\n\nBuild a zipper."
    for n, cand in enumerate([leap, zipper], 1):
        assert record_problems(build.to_record("exercism-python", n, cand), "exercism-python") == []


def test_every_source_of_the_build_is_documented_with_its_pinned_commit() -> None:
    doc = build.SOURCES_MD.read_text(encoding="utf-8")
    for src in build.SOURCES:
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{src.key}` |") and "github.com" in line), "")
        assert src.repo in row and src.commit in row, f"{src.key}: no row in SOURCES.md naming {src.repo} at {src.commit}"
