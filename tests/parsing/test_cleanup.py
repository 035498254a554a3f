"""The cleanup rules on extracted text, and the extractor applying the ones the hold-out kept."""

from __future__ import annotations

from gleaner_parsing import cleanup
from gleaner_parsing.extractor import extract_article

WRAPPED_PAGE = """<html lang="en"><head><title>Ferry timetable changes</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Ferry timetable changes</h1>
<p>The island's ferry operator said on Friday that the winter timetable would<br>
start two weeks earlier this year, because the older of its two vessels<br>
needs a new engine before the spring.</p>
<p>Passengers who booked crossings for the last fortnight of October will be<br>
moved to the nearest sailing and told by text message, the company said.</p>
<p>Read more: Harbour fees to rise for the third year running</p>
<p>The operator carried 412,000 passengers last year, a record, and expects<br>
fewer this year as the new bridge draws traffic away from the short route.</p>
<p>Follow us on Twitter and Facebook for service updates.</p>
</article><footer>© 2025 Island Post</footer></body></html>"""


def test_hard_wrapped_lines_become_one_paragraph_and_pointers_go() -> None:
    article = extract_article(WRAPPED_PAGE, "https://news.example/ferry")
    assert article is not None
    lines = article.text.splitlines()
    assert (
        "The island's ferry operator said on Friday that the winter timetable would start two "
        "weeks earlier this year, because the older of its two vessels needs a new engine before "
        "the spring."
    ) in lines
    assert not any(line.startswith("Read more") for line in lines)
    assert not any("Follow us" in line for line in lines)
    assert any(line.startswith("The operator carried 412,000") for line in lines)


def test_reflow_keeps_real_paragraphs_and_lists_apart() -> None:
    text = "A sentence that ends.\nanother starts lower case but the one before ended\n- a list item\n- another"
    assert cleanup.reflow(text) == text
    assert cleanup.reflow("cut in the\nmiddle of it.") == "cut in the middle of it."


def test_rules_leave_sentences_that_only_mention_the_words() -> None:
    assert cleanup.is_pointer("Related: SpaceX's Starship in pictures")
    assert cleanup.is_pointer("READ MORE: China plague outbreak confirmed")
    assert not cleanup.is_pointer(
        "Related companies in the group reported the same fall in orders over the year, and the "
        "regulator said it would look again at how the group accounts for the loans it makes to "
        "its suppliers."
    )
    assert cleanup.is_call_to_action(
        "Follow Newsbeat on Instagram, Facebook and YouTube."
    )
    assert cleanup.is_call_to_action("Sign up for our free daily newsletter")
    assert not cleanup.is_call_to_action(
        "The union said more than half of its members had voted to follow the recommendation of "
        "its executive, which had argued for months that the offer on pay and hours was the best "
        "that could be had this year without a strike."
    )
    assert cleanup.is_timestamp("Updated at 1:23 p.m.")
    assert cleanup.is_timestamp("- Published 18 November 2019")
    assert not cleanup.is_timestamp("Published in 2019, the report found 40 cases.")
    assert cleanup.is_shouting("CLICK HERE TO GET THE FOX NEWS APP")
    assert not cleanup.is_shouting("NASA and ESA will fly the mission in 2030.")


def test_heading_and_trailing_lists() -> None:
    lines = ["Ferry timetable changes", "The ferry will sail less.", "Body."]
    assert cleanup.drop_heading(lines, "Ferry Timetable Changes!", None) == lines[1:]
    tail = ["Body sentence.", "- one", "- two", "- three"]
    assert cleanup.drop_trailing_list(tail) == ["Body sentence."]
    assert cleanup.drop_trailing_list(["Body.", "- one", "- two"]) == [
        "Body.",
        "- one",
        "- two",
    ]
